"""The thirteen experiments: every claim of Krizhevsky, Sutskever & Hinton 2012 that the paper gives a figure for.

    ilsvrc experiment lrn            # LRN on and off, 3 seeds, the paper's -1.4 top-1 beside ours
    ilsvrc experiment all --quick    # every one, small budgets (labelled QUICK)

The subject is alexnet-small on the data's resolution (the fashion-mnist-alexnet preset: the paper's
design at 28x28, tuned for a CPU), each arm changing one thing. Sections cited are the paper's (NIPS 2012).
Budgets fit 2 CPU cores: the default about 15 minutes per experiment, --quick about 3 (subsets of the
training split, stated in every result, make an effect visible in minutes).
On ImageNet-sized data (`--data` a prepared ILSVRC-2012) the same arms run at paper scale: the full alexnet
with the `paper` preset, each arm's `paper_overrides` where the small net's differ, the PAPER budgets.
"""
from __future__ import annotations

from ilsvrc.experiment.registry import Arm, Budget, Comparison, Experiment, Paper, Quantity

TOP1 = Quantity("top1_error", "test top-1 error")
GAP = Quantity("gap", "test error - training-set error (overfitting)")
WITH_GAP = "ilsvrc.experiment.measures:figures_with_gap"
PAPER = "Krizhevsky, Sutskever & Hinton 2012"

# Budgets: (train images, test images, epochs, seeds). Two arms at the default cost about 10 minutes on 2 cores.
# (At ~500 training images/s, what 2 idle cores give alexnet-small: 6 runs of 8,000 x 8 take ~13 minutes.)
TWO_ARMS = Budget(8_000, 5_000, 8, 3), Budget(3_000, 2_000, 4, 2)
OVERFIT = Budget(4_000, 5_000, 15, 3), Budget(1_000, 2_000, 10, 2)  # small subsets, long: overfitting shows
THREE_ARMS = Budget(5_000, 5_000, 8, 3), Budget(2_000, 2_000, 4, 2)
CROPS = ("data.pad=2", "data.flip=true")  # the paper's random crops (of a padded image) and mirror images
# At paper scale the paper preset's defaults are the crops and flips (random 224x224 of 256x256, mirrored);
# "no augmentation" trains on the central 224x224, unmirrored.
PAPER_NO_AUGMENTATION = ("data.random_crop=false", "data.flip=false")
PAPER_HALF_WIDTH = ("model.options.groups=1", "model.options.channels=[48,128,192,192,256]")
ILSVRC_TRAIN = 1_281_167


def _toggle(name: str, claim: str, question: str, on: Arm, off: Arm, paper: Paper, quantity=TOP1,
            budgets=TWO_ARMS, base=()) -> Experiment:
    """The common shape: the paper's choice (control) and the net without it."""
    return Experiment(name, claim, question, quantity, (on, off), (Comparison(off.name, on.name, paper),),
                      *budgets, base=base)


SCALE = Experiment(
    "scale", "top-1 error of HOG + SVM and of the ConvNet against the number of training images",
    "The pre-2012 pipeline (HOG + linear SVM, `ilsvrc baseline`) and alexnet-small trained on stratified subsets "
    "of growing size (more epochs on small subsets: about the same number of steps), scored on the same test "
    "images. The quantity is the ConvNet's advantage (baseline error - ConvNet error): does it grow with data?",
    Quantity("advantage", "HOG error - ConvNet error"),
    (Arm("advantage@smallest", "advantage, fewest images"), Arm("advantage@largest", "advantage, most images")),
    (Comparison("advantage@largest", "advantage@smallest", Paper(
        "no figure: 'our results can be improved simply by waiting for faster GPUs and bigger datasets'", +1,
        f"{PAPER}, Sec. 1 and Sec. 7 (Discussion)")),),
    Budget(None, 5_000, 0, 3), Budget(None, 2_000, 0, 2), paired=True,
    runner="ilsvrc.experiment.scale:run_scale",
    extra={"sizes": (1_000, 3_000, 10_000, 30_000), "quick_sizes": (500, 2_000, 6_000),
           "image_passes": 20_000, "quick_image_passes": 10_000, "min_epochs": 2, "max_epochs": 15,
           # paper scale: 10 and 100 images per class and the whole split; 30 epochs of the whole at most,
           # up to the paper's 90 on the subsets
           "paper_sizes": (10_000, 100_000, ILSVRC_TRAIN), "paper_image_passes": 30 * ILSVRC_TRAIN,
           "paper_max_epochs": 90, "paper_quick_sizes": (5_000, 20_000), "paper_quick_image_passes": 100_000,
           "paper_quick_max_epochs": 15},
    paper=Budget(None, None, 0, 1), paper_quick=Budget(None, 10_000, 0, 1))

DEPTH = Experiment(
    "depth", "removing one middle convolutional layer (the paper: about 2 points of top-1 lost)",
    "alexnet-small whole, without conv3, and without conv4 (the next layer takes the previous one's maps).",
    TOP1,
    (Arm("full", "5 conv layers"), Arm("no-conv3", "without conv3", ("model.options.remove_conv=conv3",)),
     Arm("no-conv4", "without conv4", ("model.options.remove_conv=conv4",))),
    tuple(Comparison(arm, "full", Paper("+2 top-1 ('removing any of the middle layers results in a loss of "
                                        "about 2% for the top-1 performance')", +1, f"{PAPER}, Sec. 7", 0.02))
          for arm in ("no-conv3", "no-conv4")),
    *THREE_ARMS)

RELU = Experiment(
    "relu-vs-tanh", "epochs to a training-error threshold with ReLU and with tanh (the paper's Figure 1: 6x)",
    "The same net with ReLU and with tanh units. Epochs (interpolated between epochs, from chance at epoch 0) "
    "until the training error first falls to the threshold; a run that never does counts as its last epoch "
    "(a lower bound, marked). The paper's Figure 1 used a 4-layer CNN on CIFAR-10 and 25%.",
    Quantity("epochs_to_threshold", "epochs to the training-error threshold", "epochs"),
    (Arm("relu", "ReLU"), Arm("tanh", "tanh", ("model.options.activation=tanh",))),
    (Comparison("tanh", "relu", Paper("6x as many epochs for tanh to reach 25% training error on CIFAR-10 "
                                      "(4-layer CNN)", +1, f"{PAPER}, Sec. 3.1, Figure 1")),),
    # 30%: the early part of training, as 25% was on CIFAR-10 (whose final errors are higher); ReLU reaches it
    # within the --quick budget at the experiments' learning rate (3 epochs of 3,000 images).
    Budget(5_000, 5_000, 8, 3), Budget(2_000, 2_000, 6, 2),
    extra={"threshold": 0.3, "paper_threshold": 0.7})  # paper scale: 1000 classes, the fall from chance to 70%

DROPOUT = _toggle(
    "dropout", "with and without dropout (the paper: without it, substantial overfitting; with it ~2x the iterations)",
    "Dropout 0.5 in fc6 and fc7 (the paper) and none, on a small subset trained long, so that overfitting shows. "
    "The quantity is test error minus the error on the training images themselves (evaluation mode). "
    "Epochs to the training-error threshold are recorded too (the paper: dropout roughly doubles them).",
    Arm("dropout", "dropout 0.5", ("model.options.dropout=0.5",), measure=WITH_GAP),
    Arm("no-dropout", "no dropout", ("model.options.dropout=0.0",), measure=WITH_GAP),
    Paper("'without dropout, our network exhibits substantial overfitting'", +1, f"{PAPER}, Sec. 4.2"),
    GAP, OVERFIT)

AUGMENTATION = _toggle(
    "augmentation", "random crops and mirror images vs none (the paper: substantial overfitting without)",
    "Random crops of the image padded by 2 and horizontal mirror images, against the images as they are, "
    "on a small subset trained long. The quantity is test error minus training-set error (evaluation mode).",
    Arm("crops-flips", "crops + flips", CROPS, measure=WITH_GAP, paper_overrides=()),
    Arm("none", "no augmentation", ("data.pad=0", "data.flip=false"), measure=WITH_GAP,
        paper_overrides=PAPER_NO_AUGMENTATION),
    Paper("'without this scheme, our network suffers from substantial overfitting'", +1, f"{PAPER}, Sec. 4.1"),
    GAP, OVERFIT)

PCA = _toggle(
    "pca-lighting", "PCA lighting with and without (the paper: over 1 point of top-1)",
    "PCA colour lighting with alpha ~ N(0, 0.1) against none. On grayscale images the one principal component "
    "is brightness: the augmentation becomes a random brightness shift.",
    Arm("lighting", "PCA lighting 0.1", ("data.lighting=0.1",)),
    Arm("no-lighting", "no lighting", ("data.lighting=0.0",)),
    Paper("-1 top-1 ('reduces the top-1 error rate by over 1%')", +1, f"{PAPER}, Sec. 4.1", 0.01))

LRN = _toggle(
    "lrn", "local response normalisation on and off (the paper: -1.4 top-1 / -1.2 top-5)",
    "LRN (k=2, n=5, alpha=1e-4, beta=0.75) after the first two layers, against none.",
    Arm("lrn", "LRN"), Arm("no-lrn", "no LRN", ("model.options.lrn=false",)),
    Paper("-1.4 top-1 / -1.2 top-5 on ILSVRC; 13% -> 11% test error on CIFAR-10 (4-layer CNN)", +1,
          f"{PAPER}, Sec. 3.3", 0.014))

POOLING = _toggle(
    "overlapping-pooling", "3x3 stride-2 pooling vs 2x2 stride 2 (the paper: -0.4 top-1 / -0.3 top-5)",
    "Overlapping max-pooling (3x3 windows, stride 2) against the traditional non-overlapping 2x2, stride 2.",
    Arm("overlap", "3x3, stride 2"), Arm("plain", "2x2, stride 2", ("model.options.pooling=plain",)),
    Paper("-0.4 top-1 / -0.3 top-5", +1, f"{PAPER}, Sec. 3.4", 0.004))

TEN_CROP = Experiment(
    "ten-crop", "10-crop vs centre testing of the same trained models (the paper: 39.0 -> 37.5 top-1)",
    "Each trained model (random crops in training) is scored on the centre view and on the 10 views (4 corners "
    "and centre of the image padded by 2, and their mirror images, softmaxes averaged). Paired by model.",
    TOP1,
    (Arm("center", "centre view", CROPS, paper_overrides=()), Arm("10crop", "10 crops", reuse="center",
                                               measure="ilsvrc.experiment.measures:ten_crop_figures")),
    (Comparison("center", "10crop", Paper("39.0 / 18.3 with one patch -> 37.5 / 17.0 with 10 (top-1 / top-5)", +1,
                                          f"{PAPER}, Sec. 6, Table 1's footnote (ILSVRC-2010 test)", 0.015)),),
    *TWO_ARMS, paired=True)

TWO_TOWER = _toggle(
    "two-tower", "the two-group net vs one tower with half the kernels (the paper: -1.7 top-1 / -1.2 top-5)",
    "conv2, conv4 and conv5 in two groups (the paper's two GPUs) against one tower with half the kernels in "
    "conv1-conv4 (conv5 and the fully connected layers kept, as the paper's footnote says).",
    Arm("two-tower", "2 groups", ("model.options.groups=2",)),
    Arm("half-width", "1 tower, half the kernels", ("model.options.groups=1", "model.options.channels=[16,32,48,48,64]"),
        paper_overrides=PAPER_HALF_WIDTH),
    Paper("-1.7 top-1 / -1.2 top-5 for the two-GPU net", +1, f"{PAPER}, Sec. 3.2", 0.017))

BIAS = Experiment(
    "bias-init", "biases 1 (the paper) vs 0.1 (Caffe) vs 0: how often the loss stalls at ln(K), and the error",
    "The paper's initialisation, weights N(0, 0.01) on mean-subtracted 0..255 pixels, with the biases of conv2, "
    "conv4, conv5, fc6 and fc7 at 1, 0.1 and 0. The quantity is the first epoch's training loss (the paper: bias "
    "1 'accelerates the early stages of learning'); a run whose last epoch's loss is within 2% of ln(K) stalled.",
    Quantity("first_loss", "training loss, first epoch", "loss"),
    (Arm("bias-1", "bias 1 (paper)", ("model.options.bias=1.0",)),
     Arm("bias-0.1", "bias 0.1 (Caffe)", ("model.options.bias=0.1",)),
     Arm("bias-0", "bias 0", ("model.options.bias=0.0",))),
    (Comparison("bias-0", "bias-1", Paper("bias 1 'accelerates the early stages of learning by providing the "
                                          "ReLUs with positive inputs'", +1, f"{PAPER}, Sec. 5")),
     Comparison("bias-1", "bias-0.1", Paper("Caffe's bvlc_alexnet used 0.1: bias 1 could leave the loss flat "
                                            "at ln(1000)", +1, "Caffe, models/bvlc_alexnet (not the paper)"))),
    *THREE_ARMS, base=("model.options.init=paper", "data.normalize=mean_image"))

GPU = Experiment(
    "gpu", "the AlexNet training step on every device present, and the 90 epochs each implies",
    "Matrix-product GFLOP/s and the full AlexNet's training step (bf16, channels_last) on each device present; "
    "the wall time of the paper's ~90 epochs of 1.28M images that each rate implies, beside the paper's 5-6 days "
    "on two GTX 580s. Repeats of the timing stand in for seeds.",
    Quantity("img_s", "AlexNet training images / s", "img/s"),
    (Arm("cpu", "CPU"), Arm("cuda", "GPU")),
    (Comparison("cuda", "cpu", Paper("about 10x the CPU's arithmetic (~500 vs ~50 GFLOP/s in 2012); 5-6 days "
                                     "for ~90 epochs on two GTX 580 3GB", +1, f"{PAPER}, Sec. 1 and Sec. 5")),),
    Budget(None, None, 0, 3), Budget(None, None, 0, 2), runner="ilsvrc.experiment.gpu:run_gpu", needs_data=False,
    extra={"batch": {"cpu": 16, "cuda": 128}, "matmul": 2048})

_REMOVALS = (  # name, label, overrides (small net), overrides at paper scale
    ("tanh", "ReLU -> tanh", ("model.options.activation=tanh",), None),
    ("no-dropout", "no dropout", ("model.options.dropout=0.0",), None),
    ("no-augmentation", "no crops or flips", ("data.pad=0", "data.flip=false"), PAPER_NO_AUGMENTATION),
    ("no-lrn", "no LRN", ("model.options.lrn=false",), None),
    ("shallower", "without conv3", ("model.options.remove_conv=conv3",), None),
)
_PAPER_REMOVALS = [o for _, _, small, paper in _REMOVALS for o in (small if paper is None else paper)]
TOGETHER = Experiment(
    "together", "the full recipe, minus each factor in turn, and a pre-2012-style net with all of them removed",
    "The full recipe (ReLU, dropout, crops and flips, LRN, overlapping pooling, 5 conv layers), then the same "
    "with one factor removed, then with all removed and non-overlapping pooling (a pre-2012-style net).",
    TOP1,
    (Arm("full", "full recipe", CROPS, paper_overrides=()),
     *(Arm(name, label, CROPS + overrides, paper_overrides=overrides if paper is None else paper)
       for name, label, overrides, paper in _REMOVALS),
     Arm("pre-2012", "all removed", CROPS + tuple(o for _, _, os, _ in _REMOVALS for o in os)
         + ("model.options.pooling=plain",), paper_overrides=(*_PAPER_REMOVALS, "model.options.pooling=plain"))),
    tuple(Comparison(name, "full", Paper("each factor helps; 'no single factor was sufficient'", +1,
                                         f"{PAPER}, Sec. 3-4 and 7"))
          for name in [n for n, _, _, _ in _REMOVALS] + ["pre-2012"]),
    Budget(3_000, 5_000, 6, 3), Budget(1_500, 2_000, 3, 2))

EXPERIMENTS = {e.name: e for e in (SCALE, DEPTH, RELU, DROPOUT, AUGMENTATION, PCA, LRN, POOLING, TEN_CROP,
                                   TWO_TOWER, BIAS, GPU, TOGETHER)}
