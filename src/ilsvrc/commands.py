"""The table of `ilsvrc` subcommands: each row names the function that does the work, as "module:function"
(imported only when that command runs, so `--help` stays fast), its help and its arguments. No logic lives here;
ilsvrc.cli builds the parser from this table and calls the target with the parsed arguments as keywords.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass, field

from ilsvrc.config import TTA_CHOICES
from ilsvrc.data.pack_options import ON_BAD_IMAGE, STORAGES, PackOptions
from ilsvrc.experiment.catalogue import EXPERIMENTS  # plain data: the catalogue for --help


def arg(*names, **kwargs):
    return names, kwargs


PACK = PackOptions()  # the packer's defaults, shown in `data prepare --help`
JSON = arg("--json", action="store_true", help="print machine-readable JSON instead of a table")
QUIET = arg("--quiet", action="store_true", help="no progress bars or progress lines")
KIND = arg("--kind", default=None, metavar="FORMAT",
           help="force the data format instead of detecting it "
                "(packed, ilsvrc2012, voc, caltech, cifar, idx, folder)")
OPTION = arg("--option", action="append", metavar="KEY=VALUE",
             help="a reader option, repeatable: e.g. train_per_class=15 (Caltech), year=2007 (VOC: which year "
                  "of a VOCdevkit holding several), label=coarse (CIFAR-100)")


@dataclass(frozen=True)
class Command:
    path: tuple[str, ...]
    target: str  # "module:function"
    help: str
    args: list = field(default_factory=list)
    epilog: str = ""  # shown as written, after the options (a catalogue, one item a line)


COMMANDS = [
    Command(("demo",), "ilsvrc.demo:demo_command",
            "the main job: reproduce the 2012 moment in miniature on the embedded dataset", [
                arg("--data", default="fashion-mnist", help="a dataset name or path (default: fashion-mnist)"),
                arg("--out", default="runs/demo", help="output folder (default: runs/demo)"),
                arg("--quick", action="store_true", help="smaller settings, <= 2 minutes on 2 cores (labelled so)"),
                QUIET,
            ]),
    Command(("train",), "ilsvrc.engine.train:train_command",
            "train a model with a preset recipe (the paper's, or one tuned for a CPU); "
            "data parallel under torchrun (torchrun --nproc_per_node N -m ilsvrc train ...)", [
                arg("--config", default=None, metavar="NAME_OR_YAML",
                    help="a preset (paper, fashion-mnist-lenet5, fashion-mnist-alexnet, ...) or a YAML file"),
                arg("--out", default=None, metavar="RUN_DIR", help="the run folder to write"),
                arg("--data", default=None, help="dataset: a packed folder, a name or a path (overrides data.path)"),
                arg("--epochs", type=int, default=None, help="overrides train.epochs"),
                arg("--batch-size", type=int, default=None,
                    help="overrides optim.batch_size (the global batch: under torchrun each of N ranks takes 1/N)"),
                arg("--device", default=None, help="auto (default), cpu, cuda, cuda:N"),
                arg("--set", action="append", metavar="SECTION.FIELD=VALUE",
                    help="override any config field, repeatable: --set optim.lr=0.05"),
                arg("--resume", default=None, metavar="RUN_DIR",
                    help="continue a run from its last checkpoint (mid-epoch ones too); `--resume auto --out RUN "
                         "--config NAME` resumes RUN if it holds a checkpoint and starts it otherwise (requeued jobs). "
                         "SIGTERM or SIGUSR1 stop a run after the current step with a checkpoint, exit status 75"),
                QUIET,
            ]),
    Command(("eval",), "ilsvrc.evaluate:eval_command",
            "top-1 / top-5 error (or VOC mAP) of a trained model, with centre or 10-crop testing", [
                arg("run", metavar="RUN_DIR_OR_CHECKPOINT"),
                arg("--data", default=None, help="dataset to evaluate on (default: the one it was trained on)"),
                arg("--split", default="val", help="split (default val; test where there is no val)"),
                arg("--tta", choices=TTA_CHOICES, default=None,
                    help="test views: center, flip (centre + mirror image), 10crop (the paper's) or shift "
                         "(small images: 1-pixel shifts up, down, left, right, each mirrored too: 10 views); "
                         "default: the views the run validated with (train.eval_tta)"),
                arg("--real-labels", default=None, metavar="REAL_JSON",
                    help="also score against the reassessed labels of Beyer et al. 2020 (real.json: the acceptable "
                         "classes of each ILSVRC-2012 validation image, in file-name order; empty lists left out)"),
                arg("--which", choices=("best", "last"), default="best", help="checkpoint of a run folder"),
                arg("--device", default="auto", help="auto (default), cpu, cuda, cuda:N"),
                JSON,
                QUIET,
            ]),
    Command(("predict",), "ilsvrc.predict:predict_command",
            "the top-5 classes, with names and probabilities, of image files", [
                arg("run", metavar="RUN_DIR_OR_CHECKPOINT"),
                arg("images", nargs="+", metavar="IMAGE"),
                arg("--top", type=int, default=5, help="how many classes to show (default 5)"),
                arg("--device", default="auto", help="auto (default), cpu, cuda, cuda:N"),
                JSON,
            ]),
    Command(("report",), "ilsvrc.report.command:report_command",
            "an HTML page and its Markdown twin comparing runs: table, curves, filters, confusion, Figure 4", [
                arg("runs", nargs="+", metavar="RUN_DIR",
                    help="run folders of `ilsvrc train` or `ilsvrc baseline`, folders of `ilsvrc label experiment`, "
                         "and folders of `ilsvrc experiment` (or the one `experiment all` filled): 'What made it work'"),
                arg("--out", required=True, metavar="PATH",
                    help="a folder (gets report.html, report.md, figures/) or a .html file"),
                arg("--data", default=None, help="dataset for scores and images (default: each run's own)"),
                arg("--title", default="ILSVRC-style results", help="the page's title"),
                arg("--device", default="auto", help="auto (default), cpu, cuda, cuda:N"),
                arg("--feature-pool", type=int, default=5000, metavar="N",
                    help="training images searched for nearest neighbours (default 5000)"),
                QUIET,
            ]),
    Command(("baseline",), "ilsvrc.baseline.command:baseline_command",
            "the pre-2012 pipeline: hand-designed features (HOG, dense SIFT + BoVW / Fisher) + SVM", [
                arg("--features", choices=("hog-rbf", "hog", "sift-bovw", "sift-fisher"), default="hog-rbf",
                    help="hog-rbf (HOG + LBP, RBF-kernel SVM through a Nystroem map, C tuned on held-out training "
                         "images; default), hog (HOG + LBP, linear SVM), sift-bovw (bag of visual words), "
                         "sift-fisher (Fisher vectors; on photos the 2012 settings: dense SIFT at 4 scales, PCA 64, "
                         "256 Gaussians, 1x1 + 2x2 pyramid, 163,840 floats an image; on 28-32 px data one scale, "
                         "PCA 32, 16 Gaussians)"),
                arg("--data", default="fashion-mnist", help="a dataset name or path (default: fashion-mnist)"),
                arg("--out", default=None, metavar="RUN_DIR", help="the run folder (default: runs/baseline-FEATURES)"),
                arg("--split", default="val", help="split to score (default val; test where there is no val)"),
                arg("--train-limit", type=int, default=None, metavar="N",
                    help="fit on a stratified sample of N training images (default: all)"),
                arg("--C", type=float, default=None,
                    help="linear SVM soft-margin constant (default 16; hog-rbf tunes its own C)"),
                arg("--landmarks", type=int, default=10_000, metavar="N",  # kernel_svm.DEFAULT_LANDMARKS: --help imports no torch
                    help="hog-rbf: k-means centres of the training images spanning the Nystroem kernel map "
                         "(default 10000)"),
                arg("--side", type=int, default=None, metavar="PIXELS",
                    help="bring images to PIXELS x PIXELS first (default: 28-px images as they are for HOG, "
                         "upscaled x2 for SIFT; photos 64 for HOG, 128 for SIFT)"),
                arg("--workers", type=int, default=None, help="feature-extraction processes (default: all cores)"),
                arg("--seed", type=int, default=0, help="random seed (default 0)"),
                QUIET,
                JSON,
            ]),
    Command(("bench", "matmul"), "ilsvrc.bench.matmul:matmul_command",
            "GFLOP/s of square matrix products on the CPU and the GPU, and their ratio", [
                arg("--sizes", default="1000,4096", help="comma-separated n (default 1000,4096)"), JSON,
            ]),
    Command(("bench", "scaling"), "ilsvrc.bench.scaling:scaling_command",
            "the arithmetic of 90 AlexNet epochs at 1 to 1024 GPUs: compute, all-reduce, hours, input rate per GPU", [
                arg("--gpus", default="1,8,64,1024", help="comma-separated GPU counts (default 1,8,64,1024)"),
                arg("--batch-per-gpu", type=int, default=128, help="images per GPU per step (default 128)"),
                arg("--gpu-tflops", type=float, default=200.0,
                    help="sustained TFLOP/s of one GPU on AlexNet's step (default 200: an H100-class GPU in bf16, "
                         "~20%% of its dense peak; measure yours with `ilsvrc bench train`)"),
                arg("--gradient-dtype", choices=("fp32", "bf16"), default="fp32",
                    help="gradients all-reduced in fp32 (default, DDP's) or bf16 (a compression hook)"),
                arg("--nvlink-gb-s", type=float, default=450.0,
                    help="GB/s per GPU for all-reduce inside one 8-GPU machine (default 450: NVLink 4)"),
                arg("--network-gb-s", type=float, default=50.0,
                    help="GB/s per GPU across machines (default 50: one 400 Gb/s InfiniBand NDR port per GPU)"),
                JSON,
            ]),
    Command(("bench", "loader"), "ilsvrc.bench.loader:loader_command",
            "input-pipeline throughput: ilsvrc's training batches vs torchvision's ImageFolder loader, same run", [
                arg("--data", required=True,
                    help="packed data (or anything `ilsvrc data prepare` reads, packed once into the cache)"),
                arg("--reference-root", default=None, metavar="DIR",
                    help="the reference's images, class folders of JPEG files (default: the packed data's "
                         "originals, extracted once into ~/.cache/ilsvrc/bench-reference)"),
                arg("--batch", type=int, default=128, help="batch size of both (default 128)"),
                arg("--workers", type=int, default=2, help="loader processes of both (default 2)"),
                arg("--repeats", type=int, default=3, help="interleaved epochs of each; the median is reported"),
                arg("--device", default="auto",
                    help="auto (default), cpu, cuda: where batches are delivered; on a GPU, ours decodes JPEGs there"),
                arg("--threads", type=int, default=1, help="torch threads of the main process (default 1)"),
                arg("--profile", action="store_true", help="also time each step of both, per image, in one process"),
                JSON,
                QUIET,
            ]),
    Command(("bench", "train"), "ilsvrc.bench.train_step:train_command",
            "training-step throughput: ilsvrc's fast path vs a float32 reference, same run", [
                arg("--model", default="alexnet", help="model name (default alexnet)"),
                arg("--batch", type=int, default=128, help="batch size (default 128)"),
                arg("--device", default="auto", help="auto (default), cpu, cuda"),
                arg("--compile", action=argparse.BooleanOptionalAction, default=None,
                    help="torch.compile our step (default: on a GPU only)"),
                arg("--repeats", type=int, default=5, help="interleaved repeats; the median is reported"),
                JSON,
            ]),
    Command(("bench", "features"), "ilsvrc.bench.features:features_command",
            "the baseline's HOG + LBP features: batched numpy vs scikit-image image by image, same run", [
                arg("--data", default="fashion-mnist", help="a dataset name or path (default fashion-mnist)"),
                arg("--split", default="train", help="split to read the images from (default train)"),
                arg("--images", type=int, default=2000, help="images described by both (default 2000)"),
                arg("--repeats", type=int, default=3, help="interleaved repeats; the median is reported"),
                JSON,
            ]),
    Command(("data", "prepare"), "ilsvrc.data.prepare:prepare_command",
            "convert any dataset into the packed format that training reads", [
                arg("source", help="a dataset name (fashion-mnist, mnist, ...) or a path in any known format"),
                arg("--out", required=True, help="the packed dataset folder to write"),
                KIND,
                arg("--splits", default=None, help="comma-separated splits to convert (default: all)"),
                arg("--shorter-side", type=int, default=PACK.shorter_side,
                    help=f"resize large images so the shorter side is this many pixels "
                         f"(default {PACK.shorter_side}, as the paper)"),
                arg("--quality", type=int, default=PACK.quality,
                    help=f"JPEG quality of re-encoded large images (default {PACK.quality})"),
                arg("--shard-size", type=int, default=PACK.shard_size,
                    help="samples per shard (default: about 100 MB: 10000 small raw, 2000 JPEG, 500 large raw)"),
                arg("--storage", choices=STORAGES, default=PACK.storage,
                    help=f"large images as jpeg (the whole image, ~25 kB) or raw (the central square "
                         f"as uint8 pixels, 196 kB at 256: read without decoding); default {PACK.storage}"),
                arg("--workers", type=int, default=PACK.workers, help="decoding processes (default: all cores)"),
                arg("--on-bad-image", choices=ON_BAD_IMAGE, default=PACK.on_bad_image,
                    help="an image that does not decode: fail (default: stop, naming it) or skip (leave it out; "
                         "skipped images are counted and listed in index.json and by `data info`)"),
                OPTION,
                QUIET,
            ]),
    Command(("data", "info"), "ilsvrc.data.info:info_command",
            "show a dataset's splits, counts, classes, image sizes and statistics", [
                arg("dataset", help="a packed folder, a dataset name or a path in any known format"),
                KIND, JSON, OPTION,
            ]),
    Command(("data", "synth"), "ilsvrc.data.synth:synth_command",
            "write ILSVRC-2012-format archives (train tar, val tar, devkit) from bundled natural photos", [
                arg("--out", required=True, help="folder for the three archives"),
                arg("--classes", type=int, default=10, help="number of synsets (default 10, at most 1000)"),
                arg("--train-per-class", type=int, default=20, help="training images per synset (default 20)"),
                arg("--val-per-class", type=int, default=5, help="validation images per synset (default 5)"),
                arg("--seed", type=int, default=0, help="random seed (default 0)"),
                QUIET,
            ]),
    Command(("data", "download"), "ilsvrc.data.sources:download_command",
            "download a named dataset into the cache and verify its checksums", [
                arg("name", help="mnist, fashion-mnist, kmnist, cifar10, cifar10-binary, cifar100 or cifar100-binary"),
                arg("--root", default=None, help="where to put it (default: $ILSVRC_DATA or ~/.cache/ilsvrc)"),
                QUIET,
            ]),
    Command(("data", "wordnet"), "ilsvrc.data.wordnet:wordnet_command",
            "look up ImageNet wnids in WordNet 3.0: names, gloss, hypernym path", [
                arg("wnids", nargs="+", help="one or more wnids such as n02084071"),
                arg("--root", default=None, help="WordNet folder (default /usr/share/wordnet)"),
                JSON,
            ]),
    Command(("label", "simulate"), "ilsvrc.label.commands:simulate_command",
            "simulate an ImageNet-style labelling job (candidates, workers, votes) from a labelled dataset", [
                arg("--data", required=True, help="a labelled dataset: a name (fashion-mnist) or a path"),
                arg("--out", required=True, metavar="VOTES_CSV", help="the votes to write (task,worker,label,seconds)"),
                arg("--gold", default=None, metavar="GOLD_CSV", help="the true labels (default: gold.csv beside --out)"),
                arg("--split", default="train", help="the split whose images are labelled (default train)"),
                KIND,
                arg("--job", choices=("yesno", "multiclass"), default="yesno",
                    help="yesno: 'is this a <class>?' per candidate, as ImageNet (default); multiclass: 'what is this?'"),
                arg("--per-class", type=int, default=None, metavar="N",
                    help="true members per class taken from the split (default: all)"),
                arg("--precision", type=float, default=0.1,
                    help="fraction of a class's candidates that truly belong (default 0.1, like raw image search)"),
                arg("--hard", type=float, default=0.5,
                    help="fraction of impostors drawn from the most alike classes (default 0.5)"),
                arg("--workers", type=int, default=3, help="answers per candidate (default 3)"),
                arg("--initial-per-class", type=int, default=500, metavar="N",
                    help="candidates per class given --initial-votes answers, for dynamic consensus (default 500)"),
                arg("--initial-votes", type=int, default=10, help="answers per initial candidate (default 10)"),
                arg("--preset", default="realistic", choices=("realistic", "classic", "spammy", "long-tail", "ambiguous"),
                    help="the kind of crowd (default realistic: mostly good workers, a few spammers, long-tailed "
                         "activity, some ambiguous questions); the options below change one part of it"),
                arg("--mix", default=None,
                    help="kinds of workers and their fractions, e.g. good=0.75,sloppy=0.15,random=0.07,always-yes=0.03"),
                arg("--activity", type=float, default=None, metavar="S",
                    help="Zipf exponent of answers per worker: 0 all alike, 1 the r-th busiest ~ 1/r (realistic: 1)"),
                arg("--difficulty", type=float, default=None, metavar="F",
                    help="fraction of ambiguous questions, hardness uniform in [0.5, 1] (realistic: 0.1)"),
                arg("--multilabel", type=float, default=None, metavar="F",
                    help="yes/no: fraction of impostors that truly show the asked class too (realistic: 0.05)"),
                arg("--unsure", type=float, default=None, metavar="P",
                    help="yes/no: chance an honest worker answers 'unsure' on an easy question, 4x on the hardest "
                         "(realistic: 0.05)"),
                arg("--crowd", type=int, default=None, metavar="N",
                    help="number of distinct workers (default: about 250 answers each)"),
                arg("--price", type=float, default=0.04 / 3,
                    help="dollars per answer (default 0.0133: a candidate seen by 3 workers costs 4 cents)"),
                arg("--seed", type=int, default=0, help="random seed (default 0)"),
            ]),
    Command(("label", "aggregate"), "ilsvrc.label.commands:aggregate_command",
            "turn crowd votes into one label per task, a confidence and a skill per worker", [
                arg("votes", metavar="VOTES_CSV", help="answers in crowd-kit's long format: task,worker,label[,seconds]"),
                arg("--method", required=True,
                    choices=("majority", "dynamic-consensus", "dawid-skene", "dawid-skene-prior", "one-coin", "glad"),
                    help="majority, dynamic-consensus (Deng et al. 2009), dawid-skene, dawid-skene-prior (confusion "
                         "matrices smoothed towards the crowd's), one-coin, glad (Whitehill et al. 2009)"),
                arg("--out", required=True, metavar="LABELS_CSV",
                    help="labels to write (task,label,confidence,votes); worker skills go to LABELS.workers.csv"),
                arg("--gold", default=None, metavar="GOLD_CSV",
                    help="true labels (task,label): report accuracy, precision, recall"),
                arg("--classes", default=None, metavar="LIST_OR_FILE",
                    help="the class set of a multi-class job, in tie-breaking order: a,b,c or a file, one per line"),
                arg("--price", type=float, default=0.04 / 3, help="dollars per answer (default 0.0133)"),
                arg("--threshold", type=float, default=0.95,
                    help="dynamic consensus: confidence at which a task stops asking (default 0.95)"),
                arg("--initial-votes", type=int, default=10,
                    help="dynamic consensus: answers an initial task needs (default 10)"),
                arg("--initial-per-class", type=int, default=500, metavar="N",
                    help="dynamic consensus: initial tasks per class that estimate its table (default 500)"),
                arg("--seed", type=int, default=0, help="dynamic consensus: seed of the initial subset (default 0)"),
                arg("--by-class", default=None, metavar="CSV",
                    help="also write the per-class breakdown (answers per task; precision and recall with --gold) "
                         "to this CSV; the summary stays one short line for any number of classes"),
                JSON,
            ]),
    Command(("label", "apply"), "ilsvrc.label.commands:apply_command",
            "pack a dataset whose labelled splits hold only the images the crowd kept, with its labels", [
                arg("labels", metavar="LABELS_CSV", help="labels from `ilsvrc label aggregate` (or a gold.csv)"),
                arg("--data", required=True, help="the dataset the task ids point into: a name or a path"),
                arg("--out", required=True, help="the packed dataset folder to write"),
                KIND,
                QUIET,
            ]),
    Command(("experiment",), "ilsvrc.experiment.command:experiment_command",
            "run one of the paper's claims for real (or all of them): arms over seeds, the paper's figure "
            "beside ours, a verdict computed from the numbers; writes result.json, figure.png, table.txt", [
                arg("name", choices=[*EXPERIMENTS, "all"], metavar="NAME",
                    help="an experiment (listed below) or all"),
                arg("--data", default="fashion-mnist",
                    help="a name or a path (default fashion-mnist); small images train alexnet-small, a prepared "
                         "ImageNet (large images) runs the paper-scale version: the full alexnet, 90 epochs"),
                arg("--seeds", type=int, default=None, metavar="N",
                    help="seeds per arm (default: the experiment's, 3; 2 with --quick)"),
                arg("--quick", action="store_true",
                    help="small budgets: <= 3 minutes per experiment on 2 cores; at paper scale 100 images per "
                         "class, 3 epochs (labelled QUICK everywhere)"),
                arg("--device", default="auto", help="auto (default), cpu, cuda, cuda:N"),
                arg("--set", action="append", metavar="SECTION.FIELD=VALUE",
                    help="override a config field in every arm, before the arm's own, repeatable: "
                         "--set data.workers=16 (recorded in result.json)"),
                arg("--out", default=None, metavar="DIR",
                    help="output folder (default runs/experiments/NAME; with all, one folder per experiment "
                         "under DIR, default runs/experiments)"),
                JSON,
            ], epilog="experiments:\n" + "\n".join(f"  {e.name:<20} {e.claim}" for e in EXPERIMENTS.values())),
    Command(("label", "experiment"), "ilsvrc.label.commands:experiment_command",
            "label accuracy and cost vs workers per image and method, and a ConvNet trained on each", [
                arg("--data", default="fashion-mnist", help="a small-image dataset (default fashion-mnist)"),
                arg("--out", default=None,
                    help="output folder (default runs/label-experiment; with --crowds runs/label-crowds)"),
                arg("--quick", action="store_true", help="smaller settings, <= 3 minutes on 2 cores (labelled so)"),
                arg("--seed", type=int, default=0, help="random seed (default 0; --crowds: the first seed)"),
                arg("--crowds", action="store_true",
                    help="instead: labels only (no ConvNet), every crowd preset x --seeds seeds x 1, 3, 5, 10 workers "
                         "per image x every method; accuracy, cost per kept image, gain over majority "
                         "(<= 10 minutes on 2 cores)"),
                arg("--seeds", type=int, default=3, help="--crowds: seeds per crowd type (default 3)"),
                QUIET,
            ]),
]
