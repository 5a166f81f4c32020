"""The GAN's tuned settings as plain data (no Keras, so the registry can read them).

One place for every number the DCGAN was tuned to: the builders' and `GAN.compile`'s
defaults (`DEFAULTS`, `QUICK`) and the `gan-digits` zoo entry's options (`ENTRY_DEFAULTS`,
`ENTRY_QUICK`), which are derived from them.
"""

from __future__ import annotations

from typing import Any

# Tuned on 2 CPU cores (Keras 3.15, TF 2.21): with these, the final FID is >= 5x below
# the untrained generator's for both losses over 8 seeds (16 runs; worst 13.8x after 20
# epochs, 8.4x after 10), at ~0.5 s per epoch. A wider generator (64) or a 32-dim latent
# converged more slowly; label smoothing and lr 4e-4 made the FID oscillate more.
DEFAULTS: dict[str, Any] = {
    "latent_dim": 16,
    "generator_filters": 32,
    "discriminator_filters": 64,
    "learning_rate": 2e-4,
    # Adam-style optimizers: beta_1 = 0.5 keeps the two players' updates from building
    # up momentum against each other (DCGAN paper; tuned here too).
    "beta_1": 0.5,
    "batch_size": 64,
    "epochs": 20,
    # Fusing 8 steps per graph call cut wall time ~15% (same weights, bit for bit); the
    # price is batch-level callbacks and the progress bar firing every 8 steps.
    "steps_per_execution": 8,
}
# For smoke runs and the web UI's "train now": still >= 5x in every tuning run.
QUICK: dict[str, Any] = {**DEFAULTS, "epochs": 10}

# The discriminator is as many times wider than the generator's last block as in the
# tuned pairing (64 vs 32); the zoo's `gan_filters` option sets the generator's width.
DISCRIMINATOR_WIDTH = DEFAULTS["discriminator_filters"] // DEFAULTS["generator_filters"]

# The `gan-digits` entry's TrainConfig options. Measured in cnn-digits' feature space:
# FID 7-8x below the untrained generator's after 40 epochs for both losses, ~6x after 20.
ENTRY_DEFAULTS: dict[str, Any] = {
    "loss": "binary_crossentropy",
    "latent_dim": DEFAULTS["latent_dim"],
    "gan_filters": DEFAULTS["generator_filters"],
    "batch_norm": True,
    "dropout": 0.3,
    "learning_rate": DEFAULTS["learning_rate"],
    "epochs": 40,
    "batch_size": DEFAULTS["batch_size"],
    "steps_per_execution": DEFAULTS["steps_per_execution"],
}
ENTRY_QUICK: dict[str, Any] = {"epochs": 20}
