"""Model builders, one module per family: plain functions that return a `keras.Model`.

Every builder takes flat, explicit arguments, so a model is easy to build by hand:

    >>> from zoo.models.mlp import build_mlp
    >>> build_mlp((30,), n_outputs=1, output_activation="sigmoid").output_shape
    (None, 1)

Each family module also has `from_config(cfg, data)`, which calls its builder with a
`TrainConfig`'s options; `zoo.registry.BUILDERS` names it, as a string, so nothing here is
imported until a model is built. The GAN's networks are in `gan.py`, the GAN as a zoo
family (build, tuned optimizers, FID fit plan) in `gan_family.py`, its tuned settings in
`gan_tuning.py`.
"""
