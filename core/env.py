"""Process environment that must be set before TensorFlow is first imported.

TFRS 0.7.7 is written against Keras 2, which TensorFlow 2.16+ only provides as
``tf_keras`` when ``TF_USE_LEGACY_KERAS=1`` is set before ``import tensorflow``.
Every package of this project imports this module first, so no entry point can
forget it.
"""

import os
import sys

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

if "tensorflow" in sys.modules and "tf_keras" not in sys.modules:
    # tensorflow was imported before us; tf.keras may already be Keras 3.
    import tensorflow as _tf

    if not _tf.keras.__name__.startswith("tf_keras"):
        raise ImportError(
            "tensorflow was imported before this project with Keras 3 active; TFRS needs Keras 2. "
            "Set TF_USE_LEGACY_KERAS=1 in the environment, or import this project before "
            "tensorflow."
        )
