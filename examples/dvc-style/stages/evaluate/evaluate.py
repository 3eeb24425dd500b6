"""Score the matched model on the test set (eval/metrics.json), as DVC's
metrics files: nested keys become metrics such as loss.test."""

import math

import utils

model = utils.load(utils.input_path("model", "model", "model.json"))
rows = utils.load(utils.input_path("features", "features", "test.json"))
correct, loss = 0, 0.0
for r in rows:
    z = model["b"] + sum(wi * xi for wi, xi in zip(model["w"], r))
    prob = min(max(1 / (1 + math.exp(-max(-30.0, min(30.0, z)))), 1e-12), 1 - 1e-12)
    correct += (prob >= 0.5) == (r[-1] == 1)
    loss -= math.log(prob if r[-1] == 1 else 1 - prob)
acc, loss = correct / len(rows), loss / len(rows)
utils.save("eval/metrics.json", {"accuracy": round(acc, 4), "loss": {"test": round(loss, 4)}})
print(f"evaluate: accuracy {acc:.3f}, log loss {loss:.3f}")
