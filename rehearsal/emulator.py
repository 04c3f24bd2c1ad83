"""The embedded AWS emulator: moto's server in this process, on 127.0.0.1 and an ephemeral port.

In-process (not `moto_server` as a child) so the harness can apply its shims to moto and read what
moto skipped. Requests are served on werkzeug threads; the request log goes to a file, not the console.
moto's state is process-wide: run one Emulator per process at a time (start and stop reset it).
With `enforce_iam`, every request after start is authenticated and authorized (rehearsal.iam); the
harness itself signs as an admin IAM user, functions as their roles.
"""

from __future__ import annotations

import logging
import os
import threading
import warnings
from pathlib import Path
from typing import Any

import boto3

from rehearsal import iam, shims
from rehearsal.safety import DUMMY_ACCESS_KEY_ID, DUMMY_SECRET_ACCESS_KEY, emulator_environment, is_loopback_url

DEFAULT_ACCOUNT = "111111111111"
DEFAULT_REGION = "us-east-1"


class Emulator:
    """moto on a loopback port, one account, the shims applied; `stop()` throws all state away."""

    def __init__(
        self,
        *,
        account: str = DEFAULT_ACCOUNT,
        region: str = DEFAULT_REGION,
        log_file: Path | None = None,
        enforce_iam: bool = False,
    ) -> None:
        self.account = account
        self.region = region
        self.log_file = log_file
        self.enforce_iam = enforce_iam
        self.authorization: iam.AuthorizationLog | None = None  # set while IAM is enforced
        self.endpoint = ""
        self.skipped: shims.SkipRecorder | None = None
        self.bootstrapped: set[tuple[str, str]] = set()  # (account, region) pairs `cdk bootstrap` ran for
        self._server: Any = None
        self._saved_account: str | None = None
        self._log_handler: logging.Handler | None = None
        self._session: Any = None
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()

    def start(self) -> Emulator:
        # moto reads MOTO_ACCOUNT_ID for every request; set before moto is imported (and kept while serving).
        self._saved_account = os.environ.get("MOTO_ACCOUNT_ID")
        os.environ["MOTO_ACCOUNT_ID"] = self.account
        from moto.server import ThreadedMotoServer  # noqa: PLC0415 - only once MOTO_ACCOUNT_ID is set

        from rehearsal import moto_patches  # noqa: PLC0415 - imports moto, so also only now

        self._quiet_request_log()
        self.skipped = moto_patches.apply()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        if not is_loopback_url(self.endpoint):  # belt and braces: ThreadedMotoServer was told 127.0.0.1
            self.stop()
            raise RuntimeError(f"emulator bound to {self.endpoint}, which is not loopback")
        self._reset_backends()
        if self.enforce_iam:
            self.authorization = iam.enforce(self.account)
        return self

    def stop(self) -> None:
        self._clients.clear()
        if self.authorization is not None:
            iam.relax()
            self.authorization = None
        if self._server is not None:
            self._server.stop()
            self._server = None
            self._reset_backends()
        if self._saved_account is None:
            os.environ.pop("MOTO_ACCOUNT_ID", None)
        else:
            os.environ["MOTO_ACCOUNT_ID"] = self._saved_account
        if self._log_handler is not None:
            logging.getLogger("werkzeug").removeHandler(self._log_handler)
            self._log_handler.close()
            self._log_handler = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def environment(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """Environment for a child process (CDK CLI, smoke suite) or an in-process client."""
        return emulator_environment(
            dict(os.environ if base is None else base), endpoint=self.endpoint, account=self.account, region=self.region
        )

    def client(self, service: str) -> Any:
        """A boto3 client for the emulator (cached: clients are thread-safe, creating them is not cheap)."""
        with self._clients_lock:
            if service not in self._clients:
                self._clients[service] = self._shared_session().client(service, endpoint_url=self.endpoint)
            return self._clients[service]

    def client_as(self, credentials: iam.RoleCredentials, service: str) -> Any:
        """A new boto3 client for the emulator signing with a role session's `credentials` (not cached)."""
        with self._clients_lock:
            return self._shared_session().client(
                service,
                endpoint_url=self.endpoint,
                aws_access_key_id=credentials.access_key_id,
                aws_secret_access_key=credentials.secret_access_key,
                aws_session_token=credentials.session_token,
            )

    def _shared_session(self) -> boto3.session.Session:
        """One session for every client (callers hold `_clients_lock`; a session is not thread-safe): a new
        session parses botocore's endpoints and each service's model again, 0.1-0.3 s each time."""
        if self._session is None:
            self._session = boto3.session.Session(
                aws_access_key_id=DUMMY_ACCESS_KEY_ID,
                aws_secret_access_key=DUMMY_SECRET_ACCESS_KEY,
                region_name=self.region,
            )
        return self._session

    def credentials_for_role(
        self,
        role_arn: str,
        *,
        service: str = "lambda.amazonaws.com",
        session_name: str | None = None,
        caller: str | None = None,
    ) -> iam.RoleCredentials | None:
        """A session of the role as `service` opens it; None when IAM is not enforced (dummy keys then)."""
        if self.authorization is None:
            return None
        return iam.credentials_for_role(
            role_arn,
            account=self.account,
            service=service,
            session_name=session_name or service.split(".", maxsplit=1)[0],
            caller=caller,
        )

    def function_code(self, name: str, qualifier: str | None) -> bytes:
        """A Lambda function's deployment package as the emulator stores it (moto keeps the zip in memory)."""
        from moto.awslambda.utils import get_backend  # noqa: PLC0415 - after MOTO_ACCOUNT_ID

        return get_backend(self.account, self.region).get_function(name, qualifier).code_bytes

    @staticmethod
    def _reset_backends() -> None:
        """A fresh world: nothing left over from an earlier emulator (or moto mock) in this process."""
        from moto.moto_api._internal.models import moto_api_backend  # noqa: PLC0415 - after MOTO_ACCOUNT_ID

        moto_api_backend.reset()

    def _quiet_request_log(self) -> None:
        # moto warns on stderr for every resource type it skips; the rehearsal reports those itself.
        warnings.filterwarnings("ignore", message=r"Tried to parse .* not supported by moto", category=UserWarning)
        logging.getLogger("moto").setLevel(logging.ERROR)
        werkzeug = logging.getLogger("werkzeug")
        werkzeug.propagate = False
        werkzeug.setLevel(logging.WARNING)
        if self.log_file is not None and self._log_handler is None:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            self._log_handler = logging.FileHandler(self.log_file, encoding="utf-8")
            werkzeug.addHandler(self._log_handler)
        elif not werkzeug.handlers:
            werkzeug.addHandler(logging.NullHandler())
