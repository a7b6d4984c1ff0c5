"""The trained model's TensorFlow parts (DIET, TED) built for loading by one prediction.

Rasa 3.6 loads each of them by training it one step on one example, so that its weights (and
the optimizer's) exist before the saved ones are read in (`RasaModel.load`). That step traces
the whole training graph, gradients included, which nothing afterwards uses, and it was most of
the model's load and so of every Rasa start. On this project's model, `python -m
bench.model_load` (fresh processes taking turns, 3 rounds, an idle 2-core machine): 46.2 s for
Rasa's own load, 22.6 s for this one (median wall; ratio 0.49).

Here the weights are built by a prediction on Rasa's own example, then the saved values are read
in (the optimizer's, which only a further training reads, are left out), and the prediction is
run again as Rasa's load does, so that what it computes once for all the next ones comes from the
loaded weights. tests/assistant/test_model_load.py checks the result against Rasa's own load:
DIET's and TED's weights and labels' embeddings, and the parse of every held-out message.
Fine-tuning (`rasa train --finetune`) and a model part that has no prediction example take
Rasa's own path.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

logger = logging.getLogger(__name__)

_installed = False


def install() -> None:
    """Makes every later load of a Rasa TensorFlow model part build it by a prediction."""
    global _installed
    if _installed:
        return
    import tensorflow as tf
    from rasa.utils.tensorflow.constants import LEARNING_RATE, RUN_EAGERLY
    from rasa.utils.tensorflow.models import RasaModel

    rasa_load = RasaModel.load.__func__

    def load(cls: Any, model_file_name: str, model_data_example: Any,
             predict_data_example: Optional[Any] = None, finetune_mode: bool = False,
             *args: Any, **kwargs: Any) -> Any:
        if finetune_mode or predict_data_example is None:
            return rasa_load(cls, model_file_name, model_data_example, predict_data_example,
                             finetune_mode, *args, **kwargs)
        model = cls(*args, **kwargs)
        config = kwargs.get("config", {})
        model.compile(optimizer=tf.keras.optimizers.Adam(config.get(LEARNING_RATE, 0.001)),
                      run_eagerly=config.get(RUN_EAGERLY))
        model.run_inference(predict_data_example)
        # The optimizer's saved slots have no variable to go to: expected, not an error.
        model.load_weights(model_file_name).expect_partial()
        # That prediction also kept what it computed once for all the next ones (the labels'
        # embeddings, captured by the traced function) from the weights before loading:
        # forgotten, then traced again from the loaded ones, as Rasa's own load does.
        model.prepared_for_prediction = False
        model._tf_predict_step = None
        model.run_inference(predict_data_example)
        logger.debug("rasa.model_part.loaded by_prediction=%s", cls.__name__)
        return model

    RasaModel.load = classmethod(load)
    _installed = True
