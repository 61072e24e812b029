"""Adversarial: tries to reach the network, the database and the scheduler."""

import socket

import numpy as np


def attack():
    targets = [("1.1.1.1", 80), ("127.0.0.1", 5432), ("127.0.0.1", 8786), ("::1", 5432)]
    for host, port in targets:
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        try:
            s = socket.socket(fam, socket.SOCK_STREAM)
            s.settimeout(2)
            s.connect((host, port))
            print(f"SOCKET-CONNECTED {host}:{port}", flush=True)
        except OSError as exc:
            print(f"SOCKET-FAILED {host}:{port} {exc}", flush=True)
    open_ports = []
    # a sweep of the loopback (every 4th port: quick): the host's services must be invisible
    for port in [*range(1, 65536, 4), 5432, 8000, 8786, 8787]:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(0.5)
        if s.connect_ex(("127.0.0.1", port)) == 0:
            open_ports.append(port)
        s.close()
    if open_ports:
        print(f"SOCKET-CONNECTED 127.0.0.1 ports {open_ports[:20]}", flush=True)
    for path in ("/run/postgresql/.s.PGSQL.5432", "/var/run/postgresql/.s.PGSQL.5432"):
        try:
            s = socket.socket(socket.AF_UNIX)
            s.connect(path)
            print(f"SOCKET-CONNECTED {path}", flush=True)
        except OSError as exc:
            print(f"SOCKET-FAILED {path} {exc}", flush=True)


class BatchClassifier:
    def fit(self, gen_builder):
        attack()
        gen_train, _, n_train, _ = gen_builder.get_train_valid_generators(batch_size=64)
        self.n_classes = gen_builder.n_classes
        return self

    def predict_proba(self, X):
        p = np.full((len(X), self.n_classes), 1.0 / self.n_classes)
        return p
