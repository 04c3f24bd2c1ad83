"""A local Lambda runtime: the real handlers, in this process, with each function's own configuration.

moto stores Lambda functions but cannot run their code without Docker. The harness runs them itself:
- the code is the deployment package the CDK CLI published to the emulator (extracted from moto), not
  the working tree, so what runs is what was deployed;
- each function version is imported in isolation (its own module objects), with the environment
  variables of its configuration in the emulator (table names, bucket, bus, ENVIRONMENT...) plus the
  emulator endpoint and dummy credentials, so two stages never share a module, a client or a table;
- the Powertools layer the functions declare (published by AWS) is not in the emulator: the pinned
  `aws-lambda-powertools` of requirements-dev.txt stands in for it;
- invocations of one function are serialized (one execution environment per function); a fake Lambda
  context carries the name, version, memory, request id and a deadline from the configured timeout
  (the timeout itself is not enforced); X-Ray is off (no daemon), as Powertools does outside Lambda;
- function output (Powertools logs, EMF metrics, warnings) goes to a log file, not the console, and
  to the function's log group in the emulator (rehearsal.log_delivery), as the Lambda service does;
- with IAM enforced, each function runs with a session of its execution role (the role of its
  configuration, opened as lambda.amazonaws.com), in its environment variables as Lambda sets them; an
  execution environment whose session is about to expire is replaced by a fresh one, as Lambda does.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import io
import os
import sys
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from rehearsal.iam import RoleCredentials
from rehearsal.log_delivery import LogDelivery, Tee
from rehearsal.safety import STRIPPED_PREFIXES

_IMPORT_LOCK = threading.RLock()


class _ThreadRoutedStream(io.TextIOBase):
    """sys.stdout/sys.stderr stand-in: writes from a thread running a function go to that function's log."""

    def __init__(self, default: TextIO) -> None:
        self.default = default
        self.local = threading.local()

    def _target(self) -> TextIO:
        return getattr(self.local, "target", None) or self.default

    def write(self, text: str) -> int:
        return self._target().write(text)

    def flush(self) -> None:
        self._target().flush()

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:  # type: ignore[override]  # TextIOBase has a plain attribute; this follows `default`
        return getattr(self.default, "encoding", "utf-8")


_routers: dict[str, _ThreadRoutedStream] = {}


def _install_routers() -> list[_ThreadRoutedStream]:
    """Route sys.stdout and sys.stderr through a per-thread switch (other threads are unaffected)."""
    installed = []
    for name in ("stdout", "stderr"):
        current = getattr(sys, name)
        router = _routers.get(name)
        if router is None or current is not router:
            router = _ThreadRoutedStream(current)
            _routers[name] = router
            setattr(sys, name, router)
        installed.append(router)
    return installed


@dataclass
class LambdaContext:
    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_s: int
    log_group_name: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_stream_name: str = "rehearsal/[$LATEST]local"
    _deadline: float = 0.0

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class LocalFunction:
    """One deployed function version, loaded and ready to invoke."""

    name: str
    version: str
    arn: str
    handler_name: str
    memory_mb: int
    timeout_s: int
    environment: dict[str, str]
    handler: Callable[[Any, Any], Any]
    log: TextIO
    log_group: str = ""
    delivery: LogDelivery | None = None
    credentials: RoleCredentials | None = None
    fault: Callable[[Any], Any] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    invocations: int = 0

    def invoke(self, event: Any) -> Any:
        """Run the handler like Lambda's synchronous Invoke; an exception propagates as a function error."""
        context = LambdaContext(
            function_name=self.name,
            function_version=self.version,
            invoked_function_arn=self.arn,
            memory_limit_in_mb=self.memory_mb,
            timeout_s=self.timeout_s,
            log_group_name=self.log_group or f"/aws/lambda/{self.name}",
        )
        with self.lock:
            output = Tee(self.log)
            started = time.monotonic()
            try:
                with _routed_output(output):  # type: ignore[arg-type]  # Tee is a text stream, not typing.TextIO
                    self.invocations += 1
                    if self.fault is not None:
                        return self.fault(event)
                    return self.handler(event, context)
            finally:
                if self.delivery is not None:
                    text = output.buffer_text.getvalue()
                    self.delivery.deliver(context.aws_request_id, text, started=started, version=self.version)


@contextlib.contextmanager
def _routed_output(target: TextIO) -> Iterator[None]:
    routers = _install_routers()
    previous = [getattr(router.local, "target", None) for router in routers]
    for router in routers:
        router.local.target = target
    try:
        yield
    finally:
        for router, before in zip(routers, previous, strict=True):
            router.local.target = before
        target.flush()


@contextlib.contextmanager
def _process_environment(values: dict[str, str]) -> Iterator[None]:
    """os.environ = the function's environment while its modules import (module-level clients read it).

    Swapped as a whole, never edited key by key: functions load in the servers' threads, and another thread
    reading os.environ meanwhile (urllib's proxy lookup, `dict(os.environ)`) would meet a key deleted under it
    (KeyError, seen in test_iam). Those readers see either mapping whole. MOTO_* variables stay: the in-process
    emulator reads them on every request. The process's own (C-level) environment is not touched."""
    host = os.environ
    function = {
        name: value
        for name, value in _copy(host).items()
        if not name.startswith(STRIPPED_PREFIXES) or name.startswith("MOTO_")
    }
    function.update(values)
    os.environ = function  # type: ignore[assignment]  # noqa: B003 (the C-level environment stays the host's, on purpose)
    try:
        yield
    finally:
        os.environ = host  # noqa: B003


def _copy(environ: Mapping[str, str]) -> dict[str, str]:
    while True:
        try:
            return dict(environ)
        except KeyError:  # another thread deleted a variable while this copied: copy again
            continue


def load_handler(code_dir: Path, handler_name: str, environment: dict[str, str], log: TextIO) -> Callable:
    """Import `module.function` from `code_dir` as a private copy: sibling modules are imported fresh
    and removed from sys.modules afterwards, leaving whatever was there before untouched."""
    module_name, _, function_name = handler_name.rpartition(".")
    local_names = {p.stem for p in code_dir.glob("*.py")} | {
        p.name for p in code_dir.iterdir() if p.is_dir() and (p / "__init__.py").exists()
    }
    with _IMPORT_LOCK, _process_environment(environment), _routed_output(log):
        saved_modules = {name: module for name, module in sys.modules.items() if name.split(".", 1)[0] in local_names}
        for name in saved_modules:
            del sys.modules[name]
        sys.path.insert(0, str(code_dir))
        collecting, frozen = gc.isenabled(), gc.get_freeze_count()
        try:
            module = importlib.import_module(module_name)
        finally:
            # A function pauses garbage collection for its init and freezes what the init allocated (its
            # init_phase module): right for an execution environment, but this process hosts many functions
            # and the emulator, and a failed init would leave collection paused. A host that had frozen its
            # own start-up (tests/collector.py) stays frozen, its new modules with it.
            gc.unfreeze()
            if frozen:
                gc.freeze()
            if collecting:
                gc.enable()
            sys.path.remove(str(code_dir))
            for name in [n for n in sys.modules if n.split(".", 1)[0] in local_names]:
                del sys.modules[name]
            sys.modules.update(saved_modules)
    return getattr(module, function_name)


SESSION_REFRESH_MARGIN_S = 300  # replace an execution environment whose role session ends sooner


class FunctionHost:
    """Loads deployed functions on first use (by name or ARN, optionally qualified) and caches them."""

    def __init__(
        self,
        emulator: Any,
        workdir: Path,
        log_file: Path,
        faults: dict[str, Callable[[Any], Any]] | None = None,
        log_groups: dict[str, str] | None = None,
    ) -> None:
        self._emulator = emulator
        self.log_groups = dict(log_groups or {})  # function name -> its LoggingConfig.LogGroup
        self.retired: list[LocalFunction] = []  # execution environments replaced (their delivery errors count)
        self._workdir = workdir
        self._lambda = emulator.client("lambda")
        self._faults = faults or {}
        self._functions: dict[tuple[str, str], LocalFunction] = {}
        self._role_clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        log_file.parent.mkdir(parents=True, exist_ok=True)
        self._log = log_file.open("a", encoding="utf-8")

    def close(self) -> None:
        self._log.close()

    def function(self, name_or_arn: str, qualifier: str | None = None) -> LocalFunction:
        name, arn_qualifier = _split_function_reference(name_or_arn)
        qualifier = qualifier or arn_qualifier or "$LATEST"
        with self._lock:
            key = (name, qualifier)
            loaded = self._functions.get(key)
            credentials = loaded.credentials if loaded is not None else None
            if credentials is not None and credentials.expires_within(SESSION_REFRESH_MARGIN_S):
                self.retired.append(self._functions.pop(key))
                loaded = None
            if loaded is None:
                loaded = self._functions[key] = self._load(name, qualifier)
            return loaded

    def loaded(self) -> list[LocalFunction]:
        with self._lock:
            return [*self.retired, *self._functions.values()]

    def log_delivery_errors(self) -> list[str]:
        return [error for function in self.loaded() if function.delivery for error in function.delivery.errors]

    def _load(self, name: str, qualifier: str) -> LocalFunction:
        configuration = self._lambda.get_function_configuration(FunctionName=name, Qualifier=qualifier)
        version = configuration.get("Version", qualifier)
        code_dir = self._workdir / f"{name}-{version.replace('$', '')}"
        if not code_dir.exists():
            code_dir.mkdir(parents=True)
            with zipfile.ZipFile(io.BytesIO(self._code_of(name, qualifier))) as package:
                package.extractall(code_dir)
        log_group = self.log_groups.get(name) or f"/aws/lambda/{name}"
        credentials = self._emulator.credentials_for_role(
            configuration["Role"], session_name=name, caller=f"function {name}"
        )
        environment = {
            **self._emulator.environment({}),
            **(credentials.environment() if credentials is not None else {}),
            **(configuration.get("Environment") or {}).get("Variables", {}),
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_VERSION": version,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(configuration.get("MemorySize", 128)),
            "AWS_LAMBDA_LOG_GROUP_NAME": log_group,
            "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon here
        }
        handler = load_handler(code_dir, configuration["Handler"], environment, self._log)
        return LocalFunction(
            name=name,
            version=version,
            arn=configuration["FunctionArn"],
            handler_name=configuration["Handler"],
            memory_mb=int(configuration.get("MemorySize", 128)),
            timeout_s=int(configuration.get("Timeout", 3)),
            environment=environment,
            handler=handler,
            log=self._log,
            log_group=log_group,
            delivery=LogDelivery(
                self._logs_client(credentials), function_name=name, version=version, log_group=log_group
            ),
            credentials=credentials,
            fault=self._faults.get(name),
        )

    def role_client(self, name_or_arn: str, service: str) -> Any:
        """A client with the function's current role session, for what the Lambda service does on the
        function's behalf with its execution role (polling its event source mappings)."""
        credentials = self.function(name_or_arn).credentials
        if credentials is None:
            return self._emulator.client(service)
        key = (credentials.access_key_id, service)
        with self._lock:
            if key not in self._role_clients:
                self._role_clients[key] = self._emulator.client_as(credentials, service)
            return self._role_clients[key]

    def _logs_client(self, credentials: RoleCredentials | None) -> Any:
        """The Lambda service writes the function's logs with the function's role (when IAM is enforced)."""
        if credentials is None:
            return self._emulator.client("logs")
        return self._emulator.client_as(credentials, "logs")

    def _code_of(self, name: str, qualifier: str) -> bytes:
        """The deployment package as stored by the emulator (uploaded by the CDK CLI as an asset)."""
        return self._emulator.function_code(name, None if qualifier == "$LATEST" else qualifier)


def _split_function_reference(reference: str) -> tuple[str, str | None]:
    """'name', 'name:qualifier' or an ARN 'arn:aws:lambda:r:a:function:name[:qualifier]'."""
    if reference.startswith("arn:"):
        parts = reference.split(":")
        return parts[6], (parts[7] if len(parts) > 7 else None)
    name, _, qualifier = reference.partition(":")
    return name, qualifier or None
