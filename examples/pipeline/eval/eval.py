"""Score every trained model on the test set. $TRAINRUN_INPUT_MODELS holds
one directory per instance of the train sweep, named by its sweep key."""

import json
import os
import pickle

import numpy as np

data = os.environ["TRAINRUN_INPUT_DATA"]
X_test = np.load(os.path.join(data, "X_test.npy"))
y_test = np.load(os.path.join(data, "y_test.npy"))

models = os.environ["TRAINRUN_INPUT_MODELS"]
scores = {}
for key in sorted(os.listdir(models)):
    with open(os.path.join(models, key, "model.pkl"), "rb") as f:
        scores[key] = round(float(pickle.load(f).score(X_test, y_test)), 6)
    print(f"{scores[key]:.4f}  {key}")

best = max(scores, key=scores.get)
print(f"best on the test set: {best} ({scores[best]:.4f})")
with open(os.path.join(os.environ["TRAINRUN_OUTPUTS_DIR"], "test_scores.json"), "w") as f:
    json.dump({"scores": scores, "best": best}, f, indent=2, sort_keys=True)
with open(os.environ["TRAINRUN_METRICS_FILE"], "a") as f:
    f.write(json.dumps({"name": "best_test_accuracy", "value": scores[best]}) + "\n")
