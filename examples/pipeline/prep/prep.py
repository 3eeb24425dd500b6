"""Split scikit-learn's digits into train, validation and test sets,
standardized with the training set's statistics, as .npy files in
$TRAINRUN_OUTPUTS_DIR (np.save writes the same bytes for the same arrays,
so downstream stages only run again when the data really changes)."""

import argparse
import json
import os

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

parser = argparse.ArgumentParser()
parser.add_argument("--test-size", type=float, required=True)
parser.add_argument("--seed", type=int, required=True)
args = parser.parse_args()

X, y = load_digits(return_X_y=True)
X_rest, X_test, y_rest, y_test = train_test_split(
    X, y, test_size=args.test_size, random_state=args.seed, stratify=y)
X_train, X_val, y_train, y_val = train_test_split(
    X_rest, y_rest, test_size=0.2, random_state=args.seed, stratify=y_rest)

scaler = StandardScaler().fit(X_train)
out = os.environ["TRAINRUN_OUTPUTS_DIR"]
for name, a in [("X_train", scaler.transform(X_train)), ("y_train", y_train),
                ("X_val", scaler.transform(X_val)), ("y_val", y_val),
                ("X_test", scaler.transform(X_test)), ("y_test", y_test)]:
    np.save(os.path.join(out, name + ".npy"), a)

with open(os.environ["TRAINRUN_METRICS_FILE"], "a") as f:
    for name, n in [("train_samples", len(y_train)), ("val_samples", len(y_val)), ("test_samples", len(y_test))]:
        f.write(json.dumps({"name": name, "value": n}) + "\n")
print(f"train {len(y_train)}, validation {len(y_val)}, test {len(y_test)} samples")
