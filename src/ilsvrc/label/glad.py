"""GLAD (Whitehill et al. 2009): worker ability and question difficulty, learned together.

    result = glad(votes)
    result.difficulty      # (T,) 1 / beta_t: large for a question even able workers get wrong

Model: worker w answers question t rightly with probability sigma(alpha_w * beta_t), alpha_w in R
(ability; negative: adversarial), beta_t = exp(b_t) > 0 (inverse difficulty); a wrong answer names
each other class with probability (1 - sigma) / (K - 1). EM, as in the paper and crowd-kit's GLAD:
- E-step: task posteriors from alpha, beta and the class prior (ilsvrc.label.symmetric);
- M-step: conjugate gradient (at most 25 steps, tolerance 1e-2) on the expected log-likelihood
  plus Gaussian priors alpha ~ N(1, 1), b ~ N(1, 1); q_v, the posterior that answer v is right,
  gives dQ/d(alpha_w) = sum_v (q_v - sigma_v) beta_t and dQ/d(b_t) = sum_v (q_v - sigma_v) alpha_w beta_t.
Start: alpha = 1, b = 1, then an E-step. Stops when Q per answer gains less than `tol`; the posterior
returned is the E-step of the last parameters (crowd-kit returns the one before its last M-step).
The class prior is re-estimated each step (the mean posterior, as Dawid-Skene does); crowd-kit keeps
it fixed (uniform by default): `class_prior=` fixes it here too. Unsure answers are read as missing.
Memory: a few numbers per answer, worker and task; the posterior is built block by block.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, log_expit

from ilsvrc.label.result import Aggregate, worker_skill
from ilsvrc.label.symmetric import EPS, EStep, TaskChunks, symmetric_e_step
from ilsvrc.label.votes import Votes

PRIOR_MEAN = 1.0  # of alpha and of b = log beta, unit variance: Whitehill et al.'s and crowd-kit's choice
M_STEPS, M_TOL = 25, 1e-2


def glad(votes: Votes, max_iter: int = 100, tol: float = 1e-5, class_prior: np.ndarray | None = None) -> Aggregate:
    votes = votes.known()
    k, chunks = votes.n_classes, TaskChunks(votes)
    alpha, b = np.full(votes.n_workers, PRIOR_MEAN), np.full(votes.n_tasks, PRIOR_MEAN)
    prior = np.full(k, 1 / k) if class_prior is None else np.asarray(class_prior, np.float64)
    step = e_step(votes, chunks, alpha, b, prior)
    q_value, iteration = expected_loglik(votes, alpha, b, step.q), 0
    for iteration in range(1, max_iter + 1):
        if class_prior is None:
            prior = np.clip(step.mass / max(votes.n_tasks, 1), EPS, None)
        alpha, b = m_step(votes, alpha, b, step.q)
        # Q of the new parameters under the posterior they were fitted to, as crowd-kit measures it
        last, q_value = q_value, expected_loglik(votes, alpha, b, step.q) / max(len(votes), 1)
        step = e_step(votes, chunks, alpha, b, prior)
        if q_value - last < tol:
            break
    return Aggregate("glad", step.label, step.confidence, worker_skill(votes, step.q), votes.votes_per_task(),
                     iteration, ability=alpha, difficulty=np.exp(-b))


def e_step(votes: Votes, chunks: TaskChunks, alpha: np.ndarray, b: np.ndarray, prior: np.ndarray) -> EStep:
    x = alpha[votes.worker] * np.exp(b[votes.task])
    log_wrong = log_expit(-x) - np.log(max(votes.n_classes - 1, 1))
    return symmetric_e_step(chunks, log_expit(x), log_wrong, prior)


def expected_loglik(votes: Votes, alpha: np.ndarray, b: np.ndarray, q: np.ndarray) -> float:
    """Q: the expected log-likelihood of the answers, given q (V,) = p(answer right), plus the log priors."""
    x = alpha[votes.worker] * np.exp(b[votes.task])
    answers = q * log_expit(x) + (1 - q) * (log_expit(-x) - np.log(max(votes.n_classes - 1, 1)))
    gauss = -0.5 * (np.log(2 * np.pi) + np.r_[alpha - PRIOR_MEAN, b - PRIOR_MEAN] ** 2)
    return float(answers.sum() + gauss.sum())


def m_step(votes: Votes, alpha: np.ndarray, b: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    w = votes.n_workers

    def loss(params):
        a, bb = params[:w], params[w:]
        beta = np.exp(bb[votes.task])
        x = a[votes.worker] * beta
        value = q * log_expit(x) + (1 - q) * (log_expit(-x) - np.log(max(votes.n_classes - 1, 1)))
        residual = q - expit(x)
        grad_a = np.bincount(votes.worker, weights=residual * beta, minlength=w) - (a - PRIOR_MEAN)
        grad_b = np.bincount(votes.task, weights=residual * x, minlength=len(bb)) - (bb - PRIOR_MEAN)
        prior = -0.5 * ((a - PRIOR_MEAN) ** 2).sum() - 0.5 * ((bb - PRIOR_MEAN) ** 2).sum()
        return -(value.sum() + prior), -np.r_[grad_a, grad_b]

    found = minimize(loss, np.r_[alpha, b], jac=True, method="CG", tol=M_TOL, options={"maxiter": M_STEPS})
    return found.x[:w], found.x[w:]
