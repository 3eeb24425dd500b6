"""Trains a small neural network (scikit-learn's MLPClassifier) on the
handwritten digits data set that scikit-learn ships, epoch by epoch with
partial_fit, and reports its validation loss and accuracy after every epoch.

Its hyperparameters and budget come from trainrun as TRAINRUN_PARAM_*:
lr, alpha, hidden, and epochs, the number of epochs to train to. It saves a
checkpoint (the model and the epoch it reached) in checkpoint/ after every
epoch; when it starts and finds one there (successive halving's resume_from
puts the rung below's there), it trains on from it.
"""
import json
import os
import pickle
import sys
import time
import warnings

import numpy as np
from sklearn import datasets
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

CHECKPOINT = "checkpoint/state.pkl"


def param(name, cast=float):
    return cast(os.environ["TRAINRUN_PARAM_" + name.upper()])


def main():
    lr, alpha, hidden, epochs = param("lr"), param("alpha"), param("hidden", int), param("epochs", int)
    digits = datasets.load_digits()
    x = digits.data / 16.0
    x_train, x_val, y_train, y_val = train_test_split(x, digits.target, test_size=0.3, random_state=0)
    classes = np.unique(digits.target)

    if os.path.exists(CHECKPOINT):
        with open(CHECKPOINT, "rb") as f:
            state = pickle.load(f)
        model, start, rng = state["model"], state["epoch"], state["rng"]
    else:
        model = MLPClassifier(hidden_layer_sizes=(hidden, hidden), learning_rate_init=lr, alpha=alpha,
                              batch_size=32, random_state=0)
        start, rng = 0, np.random.RandomState(0)

    metrics = open(os.environ["TRAINRUN_METRICS_FILE"], "a")
    os.makedirs("checkpoint", exist_ok=True)
    began = time.time()
    for epoch in range(start + 1, epochs + 1):
        order = rng.permutation(len(x_train))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            # Several passes over the training images make one epoch: an
            # epoch that costs about a tenth of a second, as real ones cost
            # something.
            for _ in range(4):
                model.partial_fit(x_train[order], y_train[order], classes=classes)
        proba = model.predict_proba(x_val)
        val_loss = log_loss(y_val, proba, labels=classes)
        val_acc = accuracy_score(y_val, classes[proba.argmax(axis=1)])
        # cpu_seconds: what the run has cost so far, its start included,
        # whatever else the machine runs meanwhile.
        for name, value in (("val_loss", val_loss), ("val_acc", val_acc), ("cpu_seconds", time.process_time())):
            metrics.write(json.dumps({"name": name, "value": value, "step": epoch}) + "\n")
        metrics.flush()
        with open(CHECKPOINT + ".tmp", "wb") as f:
            pickle.dump({"model": model, "epoch": epoch, "rng": rng}, f)
        os.replace(CHECKPOINT + ".tmp", CHECKPOINT)
        print(f"epoch {epoch}: val_loss {val_loss:.4f} val_acc {val_acc:.4f}", flush=True)
    print(f"lr={lr} alpha={alpha} hidden={hidden}: epochs {start + 1} to {epochs} "
          f"in {time.time() - began:.1f}s", file=sys.stderr)


if __name__ == "__main__":
    main()
