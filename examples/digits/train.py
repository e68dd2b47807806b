"""Trains the small digits CNN of examples/digits and exports it to ONNX, with a few test digits to explain.

Data: scikit-learn's 8x8 handwritten digits (sklearn.datasets.load_digits, 1797 images, 10 classes; the UCI "Optical
Recognition of Handwritten Digits" test set, bundled inside scikit-learn, so nothing is downloaded). Pixels are ink
counts 0..16; the model sees them divided by 16, i.e. in [0, 1] with 0 = paper, 1 = full ink.

Model (3.7k parameters, 17 KB as ONNX):
    Conv(1->8, 3x3, pad 1) - BatchNorm - ReLU - MaxPool 2   -> [8, 4, 4]
    Conv(8->16, 3x3, pad 1) - BatchNorm - ReLU - MaxPool 2  -> [16, 2, 2]
    Flatten - Linear(64->32) - ReLU - Linear(32->10)        -> logits
exported with torch.onnx.export (opset 13, dynamic batch axis, input 'input', output 'logits'). In eval mode the
exporter folds each BatchNorm into its Conv; lrp-node would merge a kept BatchNorm the same way.

Run it (needs Debian's python3-torch, python3-sklearn and python3-onnx; the pyenv `python3` on PATH has no torch):
    apt-get install -y python3-torch python3-sklearn python3-onnx
    /usr/bin/python3 examples/digits/train.py
Training takes seconds on a CPU (importing torch and sklearn may take a minute or two on a slow machine). It is
seeded (torch, numpy and the split), so it rebuilds the same files up to floating-point differences between torch
builds. Last run (torch 1.13.1, Debian 12, CPU): train accuracy 1.000, test accuracy 0.984 (443 of 450 test digits).

Writes, next to this script:
    digits-cnn.onnx        the model
    samples.npy            [N, 1, 8, 8] float32 test digits in [0, 1]
    samples-labels.npy     [N] int64 true labels
    samples.json           per sample: test-split index, true label, the model's prediction, correct or not
The samples are three correctly classified digits (the first test digits of classes 3, 7 and 9 the model gets right)
followed by the first three misclassified test digits, so explain.mjs has both kinds to compare.
"""
import json
import os

import numpy as np
import torch
from torch import nn
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 7
CORRECT_CLASSES = (3, 7, 9)
MISCLASSIFIED = 3

torch.manual_seed(SEED)
np.random.seed(SEED)
torch.set_num_threads(2)


class DigitsCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))

    def forward(self, x):
        return self.classifier(self.features(x))


def main():
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None, :, :]  # [1797, 1, 8, 8] in [0, 1]
    labels = digits.target.astype(np.int64)
    indices = np.arange(len(labels))
    train_idx, test_idx = train_test_split(indices, test_size=0.25, random_state=SEED, stratify=labels)

    x_train, y_train = torch.from_numpy(images[train_idx]), torch.from_numpy(labels[train_idx])
    x_test, y_test = torch.from_numpy(images[test_idx]), torch.from_numpy(labels[test_idx])

    model = DigitsCnn()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3, weight_decay=1e-4)
    loss_fn = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(SEED)
    for epoch in range(40):
        model.train()
        order = torch.randperm(len(x_train), generator=generator)
        for start in range(0, len(order), 64):
            batch = order[start:start + 64]
            optimizer.zero_grad()
            loss = loss_fn(model(x_train[batch]), y_train[batch])
            loss.backward()
            optimizer.step()

    model.eval()
    with torch.no_grad():
        train_pred = model(x_train).argmax(1)
        test_logits = model(x_test)
        test_pred = test_logits.argmax(1)
    train_acc = (train_pred == y_train).float().mean().item()
    test_correct = int((test_pred == y_test).sum())
    print(f'train accuracy {train_acc:.3f}, test accuracy {test_correct / len(y_test):.3f} '
          f'({test_correct} of {len(y_test)})')

    # Samples: the first correctly classified test digit of each of CORRECT_CLASSES, then misclassified ones.
    chosen = []
    for cls in CORRECT_CLASSES:
        k = next(i for i in range(len(y_test)) if y_test[i] == cls and test_pred[i] == cls)
        chosen.append(k)
    wrong = [i for i in range(len(y_test)) if test_pred[i] != y_test[i]]
    chosen += wrong[:MISCLASSIFIED]
    meta = []
    for k in chosen:
        meta.append({
            'testIndex': int(k), 'datasetIndex': int(test_idx[k]), 'label': int(y_test[k]),
            'predicted': int(test_pred[k]), 'correct': bool(test_pred[k] == y_test[k]),
        })
        print(f"sample {len(meta) - 1}: dataset index {meta[-1]['datasetIndex']}, label {meta[-1]['label']}, "
              f"predicted {meta[-1]['predicted']} ({'correct' if meta[-1]['correct'] else 'MISCLASSIFIED'})")
    np.save(os.path.join(HERE, 'samples.npy'), x_test[chosen].numpy().astype(np.float32))
    np.save(os.path.join(HERE, 'samples-labels.npy'), y_test[chosen].numpy().astype(np.int64))
    with open(os.path.join(HERE, 'samples.json'), 'w') as f:
        json.dump({
            'seed': SEED, 'testAccuracy': round(test_correct / len(y_test), 4), 'testSize': len(y_test),
            'inputRange': [0.0, 1.0], 'samples': meta,
        }, f, indent=2)
        f.write('\n')

    torch.onnx.export(
        model, torch.zeros(1, 1, 8, 8), os.path.join(HERE, 'digits-cnn.onnx'),
        opset_version=13, input_names=['input'], output_names=['logits'],
        dynamic_axes={'input': {0: 'batch'}, 'logits': {0: 'batch'}},
    )
    print('wrote digits-cnn.onnx, samples.npy, samples-labels.npy, samples.json')


if __name__ == '__main__':
    main()
