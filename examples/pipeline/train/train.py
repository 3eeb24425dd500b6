"""Train a logistic-regression classifier with SGD, one epoch at a time,
appending the validation loss and accuracy of every epoch to
$TRAINRUN_METRICS_FILE; the model goes to $TRAINRUN_OUTPUTS_DIR."""

import argparse
import json
import os
import pickle

import numpy as np
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import log_loss

parser = argparse.ArgumentParser()
parser.add_argument("--alpha", type=float, required=True)
parser.add_argument("--eta0", type=float, required=True)
parser.add_argument("--epochs", type=int, required=True)
args = parser.parse_args()

data = os.environ["TRAINRUN_INPUT_DATA"]
load = lambda name: np.load(os.path.join(data, name + ".npy"))
X_train, y_train, X_val, y_val = load("X_train"), load("y_train"), load("X_val"), load("y_val")
classes = np.unique(y_train)

model = SGDClassifier(loss="log_loss", alpha=args.alpha, learning_rate="constant",
                      eta0=args.eta0, random_state=0)
metrics = open(os.environ["TRAINRUN_METRICS_FILE"], "a")
for epoch in range(1, args.epochs + 1):
    model.partial_fit(X_train, y_train, classes=classes)
    val_loss = log_loss(y_val, model.predict_proba(X_val), labels=classes)
    val_accuracy = model.score(X_val, y_val)
    for name, value in [("val_loss", val_loss), ("val_accuracy", val_accuracy)]:
        metrics.write(json.dumps({"name": name, "value": round(float(value), 6), "step": epoch}) + "\n")
    metrics.flush()
    print(f"epoch {epoch}: val_loss {val_loss:.4f} val_accuracy {val_accuracy:.4f}")

with open(os.path.join(os.environ["TRAINRUN_OUTPUTS_DIR"], "model.pkl"), "wb") as f:
    pickle.dump(model, f, protocol=4)
