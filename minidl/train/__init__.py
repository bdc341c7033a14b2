"""Train and evaluate a model in one call: fit(), evaluate(), predict(), History, callbacks.

    history = fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-3),
                  X_train, y_train, epochs=20, batch_size=64, validation_split=0.1,
                  callbacks=[EarlyStopping(patience=3, restore_best_weights=True)])
    history.plot("training.png")
    evaluate(model, nn.CrossEntropyLoss(), X_test, y_test)    # {"loss": ..., "accuracy": ...}

loop.py holds the training loop and History, callbacks.py the callbacks, progress.py
what fit() shows while it trains.
"""
from .callbacks import (
    Callback, EarlyStopping, LearningRateScheduler, ModelCheckpoint, TerminateOnNaN, copy_state,
)
from .loop import History, evaluate, fit, predict
