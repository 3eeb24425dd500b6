"""Trains a support vector classifier on the handwritten digits data set that
scikit-learn ships (1797 8x8 images), and reports its accuracy on the half of
the images it did not see.

Reads its parameters from the command line; writes the accuracy to
$TRAINRUN_METRICS_FILE and the fitted model to $TRAINRUN_OUTPUTS_DIR.
"""
import argparse
import json
import os
import pickle
import sys

import sklearn
from sklearn import datasets, metrics, svm
from sklearn.model_selection import train_test_split


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--gamma", type=float, default=0.001)
    p.add_argument("--C", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    digits = datasets.load_digits()
    x = digits.images.reshape((len(digits.images), -1))
    x_train, x_test, y_train, y_test = train_test_split(
        x, digits.target, test_size=0.5, shuffle=True, random_state=args.seed)

    clf = svm.SVC(gamma=args.gamma, C=args.C)
    clf.fit(x_train, y_train)
    accuracy = metrics.accuracy_score(y_test, clf.predict(x_test))

    print(f"python {sys.executable} {sys.version.split()[0]}, "
          f"scikit-learn {sklearn.__version__} from {os.path.dirname(sklearn.__file__)}")
    print(f"gamma={args.gamma} C={args.C}: accuracy {accuracy:.4f} "
          f"on {len(y_test)} digits it did not see")

    with open(os.environ["TRAINRUN_METRICS_FILE"], "a") as f:
        f.write(json.dumps({"name": "accuracy", "value": accuracy}) + "\n")
    with open(os.path.join(os.environ["TRAINRUN_OUTPUTS_DIR"], "model.pkl"), "wb") as f:
        pickle.dump(clf, f)


if __name__ == "__main__":
    main()
