"""The seed page's toy ML pipeline, step by step, on a file store.

Run it twice against the same file: the first run computes each op as the page shows; the second, in a new process,
computes nothing and prints lazy Refs.

    python examples/seed_pipeline.py --db /tmp/seed.db
"""

import argparse

import numpy as np
from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score

from graphstore.imports import *


@op
def load_data(n_class=2):
    print("Loading data")
    return load_digits(n_class=n_class, return_X_y=True)


@op
def train_model(X, y, n_estimators=5):
    print("Training model")
    return RandomForestClassifier(n_estimators=n_estimators, max_depth=2).fit(X, y)


@op
def get_acc(model, X, y):
    print("Getting accuracy")
    return round(accuracy_score(y_pred=model.predict(X), y_true=y), 2)


def main(db_path: str) -> None:
    # The forests are random; this seed makes them print the same accuracies as the documentation page.
    np.random.seed(38)
    storage = Storage(db_path)

    print("# 1. the first run")
    with storage:
        X, y = load_data()
        model = train_model(X, y)
        acc = get_acc(model, X, y)
        print(acc)

    print("# 2. retracing: nothing runs, nothing is loaded")
    with storage:
        X, y = load_data()
        print(X, y)
        model = train_model(X, y)
        print(model)
        acc = get_acc(model, X, y)
        print(acc)
    print(storage.unwrap(acc))

    print("# 3. new calls in place")
    with storage:
        for n_class in (2, 5):
            X, y = load_data(n_class)
            for n_estimators in (5, 10):
                model = train_model(X, y, n_estimators=n_estimators)
                acc = get_acc(model, X, y)
                print(acc)

    print("# 4. control flow on loaded values")
    with storage:
        for n_class in (2, 5):
            X, y = load_data(n_class)
            for n_estimators in (5, 10):
                model = train_model(X, y, n_estimators=n_estimators)
                acc = get_acc(model, X, y)
                if storage.unwrap(acc) > 0.9:
                    print(n_class, n_estimators, storage.unwrap(acc))

    print("# 5. memoized code as a storage interface")
    with storage:
        for n_class in (5,):
            X, y = load_data(n_class)
            for n_estimators in (5,):
                model = train_model(X, y, n_estimators=n_estimators)
                acc = get_acc(model, X, y)
        print(storage.unwrap(acc), storage.unwrap(model))
    storage.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="seed_pipeline.db", help="SQLite file of the store (default: %(default)s)")
    main(parser.parse_args().db)
