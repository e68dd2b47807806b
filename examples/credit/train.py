"""Trains the small tabular MLP of examples/credit and exports it to ONNX, with a CSV of a few rows to explain.

Data: the Breast Cancer Wisconsin (Diagnostic) data set bundled with scikit-learn (sklearn.datasets.
load_breast_cancer: 569 rows, 30 numeric features computed from images of fine-needle aspirates, classes
'malignant' / 'benign'; nothing is downloaded). Its source is the UCI Machine Learning Repository, licensed CC BY 4.0
(W. Wolberg, O. Mangasarian, N. Street, W. Street, 1995, doi:10.24432/C5DW2B). scikit-learn has no real credit
data set; this example shows how a credit-scoring team would use LRP (one ranked, signed feature list per decision,
filed for an auditor), and runs on this medical data set instead.

Preprocessing: features are standardised with the training split's mean and standard deviation; the model takes
standardised rows, so a feature at 0 is at the training average and relevance says how far a row's value moved the
score away from what an average row would get. The mean and scale are written to preprocess.json so that
explain.mjs can standardise raw CSV rows the same way.

Model: Linear(30->16) - ReLU - Linear(16->8) - ReLU - Linear(8->2), logits for [malignant, benign]; exported with
torch.onnx.export (opset 13, dynamic batch axis, input 'input', output 'logits').

Run it (needs Debian's python3-torch, python3-sklearn and python3-onnx; the pyenv `python3` on PATH has no torch):
    apt-get install -y python3-torch python3-sklearn python3-onnx
    /usr/bin/python3 examples/credit/train.py
Seeded (torch, numpy and the split). Training takes seconds; importing torch and sklearn may take a minute or two on a
slow machine. Last run (torch 1.13.1, Debian 12, CPU): train accuracy 0.993, test accuracy 0.951 (136 of 143 rows).

Writes, next to this script:
    credit-mlp.onnx     the model
    preprocess.json     feature names, class names, mean and scale per feature, accuracies, the sample rows' labels
    applicants.csv      a header ('id' and the 30 feature names) and a few raw test rows
"""
import csv
import json
import os

import numpy as np
import torch
from torch import nn
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 11

torch.manual_seed(SEED)
np.random.seed(SEED)
torch.set_num_threads(2)


def main():
    data = load_breast_cancer()
    x_raw = data.data.astype(np.float64)
    y = data.target.astype(np.int64)  # 0 = malignant, 1 = benign
    indices = np.arange(len(y))
    train_idx, test_idx = train_test_split(indices, test_size=0.25, random_state=SEED, stratify=y)
    mean = x_raw[train_idx].mean(axis=0)
    scale = x_raw[train_idx].std(axis=0)
    x = ((x_raw - mean) / scale).astype(np.float32)

    x_train, y_train = torch.from_numpy(x[train_idx]), torch.from_numpy(y[train_idx])
    x_test, y_test = torch.from_numpy(x[test_idx]), torch.from_numpy(y[test_idx])

    model = nn.Sequential(nn.Linear(30, 16), nn.ReLU(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 2))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3, weight_decay=1e-2)
    loss_fn = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(SEED)
    for epoch in range(30):
        model.train()
        order = torch.randperm(len(x_train), generator=generator)
        for start in range(0, len(order), 32):
            batch = order[start:start + 32]
            optimizer.zero_grad()
            loss_fn(model(x_train[batch]), y_train[batch]).backward()
            optimizer.step()

    model.eval()
    with torch.no_grad():
        train_acc = (model(x_train).argmax(1) == y_train).float().mean().item()
        test_logits = model(x_test)
        test_pred = test_logits.argmax(1)
    test_acc = (test_pred == y_test).float().mean().item()
    print(f'train accuracy {train_acc:.3f}, test accuracy {test_acc:.3f} '
          f'({int((test_pred == y_test).sum())} of {len(y_test)})')

    # Rows for the example: the first three test rows of each class, the test row closest to the decision boundary
    # (smallest logit margin) and the first misclassified test row, if any; in test-split order.
    margin = (test_logits[:, 1] - test_logits[:, 0]).abs()
    chosen = [int(i) for i in np.where(y_test.numpy() == 0)[0][:3]] + [int(i) for i in np.where(y_test.numpy() == 1)[0][:3]]
    chosen.append(int(margin.argmin()))
    wrong = [int(i) for i in np.where((test_pred != y_test).numpy())[0]]
    if wrong:
        chosen.append(wrong[0])
    chosen = sorted(set(chosen))

    names = [str(n) for n in data.feature_names]
    with open(os.path.join(HERE, 'applicants.csv'), 'w', newline='') as f:
        writer = csv.writer(f, lineterminator='\n')
        writer.writerow(['id'] + names)
        for k in chosen:
            writer.writerow([int(test_idx[k])] + [f'{v:.6g}' for v in x_raw[test_idx[k]]])
    samples = []
    for k in chosen:
        samples.append({
            'id': int(test_idx[k]), 'label': data.target_names[y_test[k]].item(),
            'predicted': data.target_names[test_pred[k]].item(), 'correct': bool(test_pred[k] == y_test[k]),
            'margin': round(float(margin[k]), 4),
        })
        print(samples[-1])

    with open(os.path.join(HERE, 'preprocess.json'), 'w') as f:
        json.dump({
            'dataset': 'Breast Cancer Wisconsin (Diagnostic), scikit-learn load_breast_cancer, UCI, CC BY 4.0',
            'features': names, 'classes': [str(c) for c in data.target_names],
            'mean': [float(v) for v in mean], 'scale': [float(v) for v in scale],
            'seed': SEED, 'trainAccuracy': round(train_acc, 4), 'testAccuracy': round(test_acc, 4),
            'testSize': len(y_test), 'samples': samples,
        }, f, indent=2)
        f.write('\n')

    torch.onnx.export(
        model, torch.zeros(1, 30), os.path.join(HERE, 'credit-mlp.onnx'),
        opset_version=13, input_names=['input'], output_names=['logits'],
        dynamic_axes={'input': {0: 'batch'}, 'logits': {0: 'batch'}},
    )
    print('wrote credit-mlp.onnx, preprocess.json, applicants.csv')


if __name__ == '__main__':
    main()
