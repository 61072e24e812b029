"""The submission contract, checked like scikit-learn's ``check_estimator``.

Static checks (:func:`check_submission`) read the two files with :mod:`ast` and never import
participant code; ``run=True`` then loads them, fits on tiny random images (and, when the fit
saved a checkpoint, fits again resuming from it) and checks the predictions with
:func:`check_predictions`. Every violation is a :class:`ContractError` naming
the file, the line and the field.
"""

from __future__ import annotations

import ast
import importlib.util
import itertools
import os
import tempfile
import threading
import traceback
from pathlib import Path
from types import ModuleType

import numpy as np

from ramp_server.kit.taxa import N_CLASSES

PREPROCESSOR = "image_preprocessor"
CLASSIFIER = "batch_classifier"
ELEMENT_NAMES = (PREPROCESSOR, CLASSIFIER)
#: allowed deviation of a probability row's sum from 1
SUM_TOLERANCE = 1e-3

_counter = itertools.count()


class ContractError(ValueError):
    """A submission breaks the contract. ``file``, ``line`` and ``field`` locate the problem."""

    def __init__(
        self,
        message: str,
        *,
        file: str | os.PathLike | None = None,
        line: int | None = None,
        field: str | None = None,
    ):
        self.message = message
        self.file = str(file) if file is not None else None
        self.line = line
        self.field = field
        where = self.file or ""
        if where and line:
            where += f":{line}"
        super().__init__(f"{where}: {message}" if where else message)


def _positional(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple[int, int, bool]:
    """(required, total) positional parameters of ``fn`` and whether it takes ``*args``."""
    args = fn.args
    total = len(args.posonlyargs) + len(args.args)
    required = total - len(args.defaults)
    kw_required = sum(d is None for d in args.kw_defaults)
    if kw_required:  # a required keyword-only parameter can never be satisfied by the workflow
        required = -1
    return required, total, args.vararg is not None


def _check_signature(
    fn: ast.FunctionDef | ast.AsyncFunctionDef, *, n_args: int, call: str, file: Path
) -> None:
    required, total, varargs = _positional(fn)
    if required == -1 or required > n_args or (total < n_args and not varargs):
        raise ContractError(
            f"`{fn.name}` must accept exactly {call} "
            f"(found `def {fn.name}({ast.unparse(fn.args)})`)",
            file=file,
            line=fn.lineno,
            field=fn.name,
        )
    if isinstance(fn, ast.AsyncFunctionDef):
        raise ContractError(
            f"`{fn.name}` must be a plain function, not `async def`",
            file=file,
            line=fn.lineno,
            field=fn.name,
        )


#: CPython 3.11 < 3.11.8 corrupts the AST builder's recursion counter when threads parse at
#: once (gh-106905: "AST constructor recursion depth mismatch"): every parse or compile of
#: participant code in a threaded process (the server) holds this lock.
PARSE_LOCK = threading.Lock()


def _parse(file: Path) -> ast.Module:
    if not file.is_file():
        raise ContractError(
            f"file missing: a submission needs {PREPROCESSOR}.py and {CLASSIFIER}.py",
            file=file,
            field="file",
        )
    raw = file.read_bytes()
    try:
        source = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ContractError(
            "not UTF-8 text: save the file as UTF-8",
            file=file,
            line=raw[: exc.start].count(b"\n") + 1,
            field="encoding",
        ) from exc
    try:
        with PARSE_LOCK:
            return ast.parse(source, filename=str(file))
    except SyntaxError as exc:
        raise ContractError(
            f"syntax error: {exc.msg}", file=file, line=exc.lineno, field="syntax"
        ) from exc


def _module_statements(body: list[ast.stmt]):
    """Module-level statements, including those under top-level if/try/with blocks."""
    for node in body:
        yield node
        if isinstance(node, (ast.If, ast.With)):
            yield from _module_statements(node.body)
            yield from _module_statements(getattr(node, "orelse", []))
        elif isinstance(node, ast.Try):
            for part in (node.body, node.orelse, node.finalbody):
                yield from _module_statements(part)
            for handler in node.handlers:
                yield from _module_statements(handler.body)


def _top_level(tree: ast.Module) -> dict[str, ast.AST]:
    """Top-level names of a module: defs, classes, assignments and imports (last one wins)."""
    names: dict[str, ast.AST] = {}
    for node in _module_statements(tree.body):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names[node.name] = node
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                for n in ast.walk(t):
                    if isinstance(n, ast.Name):
                        names[n.id] = node
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                names[(alias.asname or alias.name).split(".")[0]] = node
    return names


def _check_preprocessor(file: Path) -> None:
    names = _top_level(_parse(file))
    for name, required in (("transform", True), ("transform_test", False)):
        node = names.get(name)
        if node is None:
            if required:
                raise ContractError(
                    "missing function `transform(x)` (one H×W×3 uint8 image → array)",
                    file=file,
                    field="transform",
                )
            continue
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            _check_signature(node, n_args=1, call="one argument, the image: `(x)`", file=file)
        elif isinstance(node, ast.ClassDef):
            raise ContractError(
                f"`{name}` must be a function `{name}(x)`, not a class",
                file=file,
                line=node.lineno,
                field=name,
            )


def _check_classifier(file: Path) -> None:
    names = _top_level(_parse(file))
    node = names.get("BatchClassifier")
    if node is None:
        raise ContractError(
            "missing class `BatchClassifier` (with fit(self, gen_builder) and predict_proba(self, X))",
            file=file,
            field="BatchClassifier",
        )
    if not isinstance(node, ast.ClassDef):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            raise ContractError(
                "`BatchClassifier` must be a class, not a function",
                file=file,
                line=node.lineno,
                field="BatchClassifier",
            )
        return  # assigned or imported: checked when run
    methods = {
        m.name: m for m in node.body if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef))
    }
    inherits = any(not (isinstance(b, ast.Name) and b.id == "object") for b in node.bases)
    specs = (
        ("__init__", 1, "only `self` (no required parameter): `__init__(self)`", False),
        ("fit", 2, "`(self, gen_builder)`", True),
        ("predict_proba", 2, "`(self, X)`", True),
    )
    for name, n_args, call, required in specs:
        method = methods.get(name)
        if method is None:
            if required and not inherits:
                raise ContractError(
                    f"class `BatchClassifier` has no method `{name}{call.strip('`')}`",
                    file=file,
                    line=node.lineno,
                    field=f"BatchClassifier.{name}",
                )
            continue
        decorators = {d.id for d in method.decorator_list if isinstance(d, ast.Name)}
        if decorators & {"staticmethod", "classmethod", "property"}:
            raise ContractError(
                f"`BatchClassifier.{name}` must be a plain method {call}",
                file=file,
                line=method.lineno,
                field=f"BatchClassifier.{name}",
            )
        _check_signature(method, n_args=n_args, call=call, file=file)


def check_static(path: str | os.PathLike) -> None:
    """Check both files of the submission folder ``path`` without importing them."""
    root = Path(path)
    if not root.is_dir():
        raise ContractError("submission folder not found", file=root, field="folder")
    _check_preprocessor(root / f"{PREPROCESSOR}.py")
    _check_classifier(root / f"{CLASSIFIER}.py")


def load_module(file: str | os.PathLike) -> ModuleType:
    """Import a participant file by path (a fresh module; a SyntaxError names file and line)."""
    file = Path(file)
    name = f"_ramp_submission_{file.stem}_{next(_counter)}"
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise ContractError("cannot be imported as a Python module", file=file, field="file")
    module = importlib.util.module_from_spec(spec)
    # not put in sys.modules: cloudpickle then pickles the participant's code by value
    spec.loader.exec_module(module)
    return module


def method_line(file: str | os.PathLike, method: str) -> int | None:
    """Line of ``BatchClassifier.<method>`` in ``file`` (``None`` when not found)."""
    try:
        source = Path(file).read_bytes()
        with PARSE_LOCK:
            tree = ast.parse(source)
    except (OSError, SyntaxError, ValueError):
        return None
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == "BatchClassifier":
            for m in node.body:
                if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef)) and m.name == method:
                    return m.lineno
    return None


def check_predictions(
    y_proba,
    n_rows: int,
    *,
    n_classes: int = N_CLASSES,
    file: str | os.PathLike | None = None,
    line: int | None = None,
    field: str = "predict_proba",
) -> np.ndarray:
    """Validate an n_rows×n_classes probability array; returns it as float64 rows summing to 1."""
    if hasattr(y_proba, "detach"):  # a torch tensor
        y_proba = y_proba.detach().cpu().numpy()
    try:
        arr = np.asarray(y_proba, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ContractError(
            f"{field} must return a numeric array, got {type(y_proba).__name__}",
            file=file,
            line=line,
            field=field,
        ) from exc

    def fail(msg: str) -> ContractError:
        return ContractError(f"{field} {msg}", file=file, line=line, field=field)

    if arr.shape != (n_rows, n_classes):
        raise fail(
            f"returned shape {arr.shape}, expected ({n_rows}, {n_classes}): "
            f"one row of {n_classes} class probabilities per input image"
        )
    finite = np.isfinite(arr)
    if not finite.all():
        r, c = np.argwhere(~finite)[0]
        raise fail(f"returned {arr[r, c]} at row {r}, column {c}: probabilities must be finite")
    if (arr < 0).any():
        r, c = np.argwhere(arr < 0)[0]
        raise fail(f"returned a negative probability {arr[r, c]:.4g} at row {r}, column {c}")
    sums = arr.sum(axis=1)
    off = np.abs(sums - 1.0) > SUM_TOLERANCE
    if off.any():
        r = int(np.flatnonzero(off)[0])
        raise fail(
            f"row {r} sums to {sums[r]:.6g}, not 1 (tolerance {SUM_TOLERANCE}): "
            "return probabilities, e.g. a softmax of the logits"
        )
    return arr / sums[:, None]


def _participant_frame(exc: BaseException, root: Path) -> tuple[str | None, int | None]:
    """The innermost traceback frame inside the submission folder."""
    found: tuple[str | None, int | None] = (None, None)
    for frame in traceback.extract_tb(exc.__traceback__):
        if Path(frame.filename).resolve().parent == root.resolve():
            found = (frame.filename, frame.lineno)
    return found


def check_run(path: str | os.PathLike, *, n_per_class: int = 2, seed: int = 0) -> np.ndarray:
    """Load the submission, fit it on tiny random data and check ``predict_proba``.

    The fit runs with checkpoints on; when it saved one (``gen_builder.save_checkpoint``), a
    fresh ``BatchClassifier`` is fitted again, which resumes from it (after the last epoch:
    nothing left to train), and must predict too: a state saved but not loadable fails here,
    not hours into a long training.
    """
    from ramp_server.kit.workflow import ImageClassifierWorkflow

    root = Path(path)
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(N_CLASSES), n_per_class)
    X = rng.integers(0, 256, size=(len(y), 64, 64, 3), dtype=np.uint8)
    with tempfile.TemporaryDirectory(prefix="ramp-check-") as checkpoints:
        workflow = ImageClassifierWorkflow(n_jobs=1, seed=seed, checkpoint_dir=checkpoints)
        try:
            model = workflow.train_submission(str(root), X, y)
            proba = workflow.test_submission(model, X)
            if any(Path(checkpoints).iterdir()):
                resumed = workflow.train_submission(str(root), X, y)
                workflow.test_submission(resumed, X)
            return proba
        except ContractError:
            raise
        except Exception as exc:
            file, line = _participant_frame(exc, root)
            raise ContractError(
                f"raised {type(exc).__name__}: {exc}", file=file or root, line=line, field="run"
            ) from exc


def check_submission(path: str | os.PathLike, *, run: bool = False) -> None:
    """Check a submission folder: static checks, then (``run=True``) a fit/predict on tiny data."""
    check_static(path)
    if run:
        check_run(path)
