"""A lean UploadArchive: botocore's request built once per vault, then only signed and sent.

Why it exists: for thousands of small files the client's CPU per request is the bound, and
about a third of a 4 KiB UploadArchive's CPU through ``client.upload_archive`` is botocore's
per-call machinery (parameter validation, serializing, endpoint rules, a dozen event
emissions, the signer's events) rather than signing or HTTP (``benchmarks/client_cpu.py``:
0.90 against 0.66 ms). The request is the same for every call to a vault except four headers
and the body, so:

* the first upload to a vault goes the whole botocore way; a ``before-call`` hook keeps the
  request botocore built (URL, headers, signing context) as that vault's template;
* later uploads copy the template, set the description, both checksums and the body, sign
  with botocore's own ``SigV4Auth`` (fresh credentials each time, so refreshes still work)
  and send through the client's own HTTP session (urllib3, the same kept-alive pool and
  timeouts, the same exception mapping);
* every reply is parsed by botocore's parser and handed to the same ``needs-retry`` event
  botocore's endpoint emits, so the standard retry handler, its quota, and glacierlib's
  hooks (408, quota errors, short bodies, lost-reply counting) decide exactly as before; a
  retry is reported to the progress callback by the same hook; a failure is raised as the
  same ``ClientError`` or botocore exception, which ``GlacierStore`` translates as before.
* ``before-send``, ``after-call`` (which refunds the retry quota) and ``after-call-error``
  are emitted as botocore does, so an observer (or a stub) on the client still sees every
  request. The retry headers (``amz-sdk-invocation-id``, ``amz-sdk-request``) are added
  after signing, as botocore's ``request-created`` handlers add them.

Anything unusual (another signature version, no credentials, no template yet, a botocore
whose internals differ) takes the ordinary botocore path.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.endpoint import convert_to_response_dict
from botocore.exceptions import ClientError
from botocore.hooks import first_non_none_response

__all__ = ["LeanUploader"]

logger = logging.getLogger(__name__)

_OPERATION = "UploadArchive"
#: Headers that differ per call; the template keeps everything else botocore put there.
_PER_CALL = ("x-amz-archive-description", "x-amz-sha256-tree-hash", "x-amz-content-sha256")


class LeanUploader:
    """Sends UploadArchive requests from per-vault templates (see the module docstring).

    ``report`` is called with each request about to be sent, like a ``request-created``
    handler: ``GlacierStore`` passes its retry reporter.
    """

    def __init__(self, client: Any, report: Callable[..., None],
                 max_attempts: int | None) -> None:
        self._client = client
        self._max_attempts = max_attempts
        self._report = report
        self._events = client.meta.events
        self._endpoint = client._endpoint
        self._session = self._endpoint.http_session
        self._model = client._service_model.operation_model(_OPERATION)
        self._parser = self._endpoint._response_parser_factory.create_parser(
            self._model.service_model.resolved_protocol)
        self._signer = client._request_signer
        self._service_id = self._model.service_model.service_id.hyphenize()
        self._templates: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._building = threading.local()
        # On the service's event, registered last: after botocore's own before-call handlers
        # (the API version header) have run.
        self._events.register_last(f"before-call.{self._service_id}", self._keep_template)

    def full_call(self, vault: str, call: Callable[[], Any]) -> Any:
        """Run ``call`` (the ordinary botocore UploadArchive) and keep its request as the
        template for ``vault``."""
        self._building.vault = vault
        try:
            return call()
        finally:
            self._building.vault = None

    def _keep_template(self, params: dict[str, Any], context: Mapping[str, Any],
                       model: Any = None, **_: Any) -> None:
        """before-call (last): keep the request botocore built for the vault being built."""
        try:
            self._keep(params, context, model)
        except (AttributeError, KeyError, TypeError) as exc:  # another botocore: no template
            logger.debug("no UploadArchive template (%s)", type(exc).__name__)

    def _keep(self, params: dict[str, Any], context: Mapping[str, Any], model: Any) -> None:
        vault = getattr(self._building, "vault", None)
        plain_v4 = (self._signer.signature_version == "v4"
                    and context.get("auth_type") in (None, "v4")
                    and self._signer._credentials is not None)
        if vault is None or getattr(model, "name", None) != _OPERATION or not plain_v4:
            return
        template = {
            "url": params["url"],
            "method": params["method"],
            "headers": {k: v for k, v in params["headers"].items()
                        if k.lower() not in _PER_CALL},
            "context": {k: v for k, v in context.items()
                        if k not in ("retries", "timestamp")},
        }
        with self._lock:
            self._templates[vault] = template

    def template_for(self, vault: str) -> dict[str, Any] | None:
        return self._templates.get(vault)

    def upload(self, template: dict[str, Any], data: Any, description_header: str,
               tree_hash_hex: str, sha256_hex: str) -> dict[str, Any]:
        """One UploadArchive with botocore's retries; the parsed reply, or botocore's error."""
        headers = dict(template["headers"])
        headers["x-amz-archive-description"] = description_header
        headers["x-amz-sha256-tree-hash"] = tree_hash_hex
        headers["x-amz-content-sha256"] = sha256_hex
        context: dict[str, Any] = dict(template["context"])
        request_dict = {"url": template["url"], "method": template["method"],
                        "headers": headers, "body": data, "context": context}
        attempts = 1
        invocation = str(uuid.uuid4())
        while True:
            # What botocore's endpoint and its request-created handlers put there.
            # (botocore's retry handler raises "max" to its own cap when it sees the request;
            # without a cap of ours it is left to that handler alone.)
            context["retries"] = {"attempt": attempts, "invocation-id": invocation}
            if self._max_attempts is not None:
                context["retries"]["max"] = self._max_attempts
            response, caught = self._attempt(request_dict, headers, data, context)
            delay = first_non_none_response(self._events.emit(
                f"needs-retry.{self._service_id}.{_OPERATION}", response=response,
                endpoint=self._endpoint, operation=self._model, attempts=attempts,
                caught_exception=caught, request_dict=request_dict))
            if delay is None or delay is False:
                break
            time.sleep(delay)
            attempts += 1
        if caught is not None:
            self._events.emit(f"after-call-error.{self._service_id}.{_OPERATION}",
                              exception=caught, context=context)
            raise caught
        assert response is not None
        http, parsed = response
        # botocore's retry quota is refunded here, as after an ordinary call.
        self._events.emit(f"after-call.{self._service_id}.{_OPERATION}", http_response=http,
                          parsed=parsed, model=self._model, context=context)
        if http.status_code >= 300:
            raise ClientError(parsed, _OPERATION)
        return parsed

    def _attempt(
        self, request_dict: dict[str, Any], headers: dict[str, str], data: Any,
        context: dict[str, Any],
    ) -> tuple[tuple[Any, dict[str, Any]] | None, Exception | None]:
        """One signed request, split as botocore's endpoint splits it: only the sending may
        fail into the retry handler; signing and parsing errors propagate."""
        request = AWSRequest(method=request_dict["method"], url=request_dict["url"],
                             headers=dict(headers), data=data)
        request.context = context
        self._report(request=request, operation_name=_OPERATION)
        credentials = self._signer._credentials
        frozen = credentials.get_frozen_credentials() if credentials is not None else None
        # What botocore's RequestSigner takes: the endpoint rules' signing scope, if any.
        signing = context.get("signing") or {}
        SigV4Auth(frozen, signing.get("signing_name") or self._signer.signing_name,
                  signing.get("region") or self._signer.region_name).add_auth(request)
        # Added after signing, as botocore's request-created handlers do.
        retries = context["retries"]
        request.headers["amz-sdk-invocation-id"] = retries["invocation-id"]
        request.headers["amz-sdk-request"] = "; ".join(
            f"{key}={retries[key]}" for key in ("attempt", "max") if key in retries)
        prepared = request.prepare()
        prepared.stream_output = False
        try:
            http = first_non_none_response(self._events.emit(
                f"before-send.{self._service_id}.{_OPERATION}", request=prepared))
            if http is None:
                http = self._session.send(prepared)
        except Exception as exc:  # as botocore's endpoint: the retry handler decides
            return None, exc
        parsed = self._parser.parse(convert_to_response_dict(http, self._model),
                                    self._model.output_shape)
        return (http, parsed), None
