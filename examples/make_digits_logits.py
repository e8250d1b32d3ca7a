"""Make the small example dataset shipped in ``examples/``: a flat clustering model's logits on digits.

The model is unsupervised: PCA (30 components, whitened) of scikit-learn's bundled 8x8 digits
(1 797 images, 10 classes), then a 20-component Gaussian mixture (full covariances, seed 0).  Its
per-point log responsibilities ``log p(cluster | x)`` are the logits (softmax gives back the
responsibilities).  Labels are saved separately for ``l2h metrics``; the model never saw them.

Run from the repository root (needs scikit-learn)::

    python examples/make_digits_logits.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.mixture import GaussianMixture

N_CLUSTERS = 20
HERE = Path(__file__).resolve().parent


def main() -> None:
    digits = load_digits()
    features = PCA(n_components=30, whiten=True, random_state=0).fit_transform(digits.data)
    gmm = GaussianMixture(n_components=N_CLUSTERS, covariance_type="full", n_init=4, random_state=0)
    gmm.fit(features)
    # Log responsibilities, with a floor so that no logit is -inf in float32.
    logits = np.maximum(gmm.predict_proba(features), 1e-30)
    logits = np.log(logits).astype(np.float32)
    np.save(HERE / "digits_logits.npy", logits)
    np.save(HERE / "digits_labels.npy", digits.target.astype(np.int64))
    (HERE / "digits_class_names.txt").write_text("".join(f"digit {i}\n" for i in range(10)))
    print(f"wrote {logits.shape} logits; cluster sizes {np.bincount(logits.argmax(1), minlength=N_CLUSTERS)}")


if __name__ == "__main__":
    main()
