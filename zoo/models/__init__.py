"""Model builders, one module per family: plain functions that return a `keras.Model`.

Every builder takes flat, explicit arguments, so a model is easy to build by hand:

    >>> from zoo.models.mlp import build_mlp
    >>> build_mlp((30,), n_outputs=1, output_activation="sigmoid").output_shape
    (None, 1)
"""
