"""PayPal's REST API through its official SDK (paypal-server-sdk, Orders v2 and Payments v2).

This is the only file that knows the SDK. It builds the SDK client from the
settings, keeps the OAuth token in Django's cache (shared by every process,
so each worker does not fetch its own), turns network and API errors into
:class:`~site_core.payments.providers.ProviderError`, and returns PayPal's
JSON as plain dicts (exactly PayPal's documented shapes, whatever the SDK's
models make of them).

The SDK has no call for webhook signature verification; it is sent here with
the SDK's own request builder, base URL, OAuth token and HTTP client, so the
whole of PayPal can be faked at one transport in tests
(:func:`http_client_instance`).
"""

from __future__ import annotations

import hashlib
import json
import logging

import requests
from apimatic_core.authentication.multiple.single_auth import Single
from apimatic_core.exceptions.auth_validation_exception import AuthValidationException
from apimatic_core.request_builder import RequestBuilder
from apimatic_core.response_handler import ResponseHandler
from apimatic_core.types.parameter import Parameter
from django.core.cache import cache
from django.utils.translation import gettext as _
from paypalserversdk.api_helper import APIHelper
from paypalserversdk.configuration import Environment, Server
from paypalserversdk.controllers.base_controller import BaseController
from paypalserversdk.exceptions.api_exception import ApiException
from paypalserversdk.exceptions.error_exception import ErrorException
from paypalserversdk.exceptions.o_auth_provider_exception import OAuthProviderException
from paypalserversdk.http.auth.o_auth_2 import ClientCredentialsAuthCredentials
from paypalserversdk.http.http_method_enum import HttpMethodEnum
from paypalserversdk.models.capture_request import CaptureRequest
from paypalserversdk.models.money import Money as PayPalMoney
from paypalserversdk.models.o_auth_token import OAuthToken
from paypalserversdk.models.refund_request import RefundRequest
from paypalserversdk.paypal_serversdk_client import PaypalServersdkClient

from modules.payments_paypal import conf
from site_core.payments.providers import ProviderError

logger = logging.getLogger(__name__)

#: Seconds to wait for PayPal before giving up (the client is waiting on a page).
TIMEOUT_SECONDS = 30
#: Refresh the OAuth token this many seconds before PayPal says it expires.
TOKEN_MARGIN_SECONDS = 120
#: Full objects in answers, not just id/status/links.
REPRESENTATION = "return=representation"


def http_client_instance():
    """The HTTP client the SDK sends through: None lets the SDK build its own
    ``requests`` session. Tests replace this function to return a session
    whose transport is a fake PayPal."""
    return None


def _token_cache_key():
    digest = hashlib.sha256(
        f"{conf.environment()}:{conf.client_id()}:{conf.client_secret()}".encode()
    ).hexdigest()[:24]
    return f"payments_paypal:oauth:{digest}"


def _cached_token(last_token, auth_manager):
    """The SDK's token provider: one token per app, kept in the shared cache until it nearly expires."""
    key = _token_cache_key()
    stored = cache.get(key)
    if stored:
        token = OAuthToken.from_dictionary(stored)
        if token is not None and not auth_manager.is_token_expired(token):
            return token
    token = auth_manager.fetch_token()
    lifetime = int(getattr(token, "expires_in", 0) or 0) - TOKEN_MARGIN_SECONDS
    if lifetime > 0:
        cache.set(key, {"access_token": token.access_token, "token_type": token.token_type,
                        "expires_in": token.expires_in, "expiry": getattr(token, "expiry", None)}, lifetime)
    return token


def forget_token():
    cache.delete(_token_cache_key())


def build_sdk_client():
    environment = getattr(Environment, conf.ENVIRONMENTS[conf.environment()])
    return PaypalServersdkClient(
        client_credentials_auth_credentials=ClientCredentialsAuthCredentials(
            o_auth_client_id=conf.client_id(),
            o_auth_client_secret=conf.client_secret(),
            o_auth_token_provider=_cached_token,
            o_auth_clock_skew=TOKEN_MARGIN_SECONDS,
        ),
        environment=environment,
        timeout=TIMEOUT_SECONDS,
        # Never retried blindly: every call that moves money carries a
        # PayPal-Request-Id, and the caller decides when to try again.
        max_retries=0,
        http_client_instance=http_client_instance(),
    )


def _error_body(response):
    try:
        data = json.loads(getattr(response, "text", "") or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _api_error(exc: ApiException, what: str) -> ProviderError:
    status = exc.response_code
    data = _error_body(exc.response)
    details = data.get("details") if isinstance(data.get("details"), list) else []
    first = details[0] if details and isinstance(details[0], dict) else {}
    issue = first.get("issue") or data.get("name") or data.get("error") or f"HTTP_{status}"
    description = (first.get("description") or data.get("message") or data.get("error_description")
                   or str(exc.reason))
    logger.warning("PayPal %s failed: HTTP %s %s (%s) debug_id=%s", what, status, issue, description,
                   data.get("debug_id", ""))
    if status == 401:
        # A revoked or rotated token: the next call fetches a new one.
        forget_token()
    retryable = status in (401, 408, 409, 429) or status >= 500
    return ProviderError(
        _("PayPal refused the request (%(issue)s): %(description)s") % {"issue": issue, "description": description},
        retryable=retryable, code=issue,
    )


class PayPalAPI:
    """The PayPal calls the provider makes, each returning PayPal's JSON as a dict."""

    def __init__(self, sdk_client=None):
        self.sdk = sdk_client or build_sdk_client()

    def _call(self, what, fn, options):
        try:
            response = fn({key: value for key, value in options.items() if value is not None})
        except requests.exceptions.Timeout as exc:
            logger.warning("PayPal %s timed out: %s", what, exc)
            raise ProviderError(_("PayPal did not answer in time."), retryable=True, code="timeout") from exc
        except requests.exceptions.RequestException as exc:
            logger.warning("PayPal %s could not reach PayPal: %s", what, exc)
            raise ProviderError(_("PayPal could not be reached."), retryable=True, code="unreachable") from exc
        except (AuthValidationException, OAuthProviderException) as exc:
            status = getattr(exc, "response_code", None)
            logger.error("PayPal %s: no OAuth token (%s)", what, exc)
            forget_token()
            raise ProviderError(_("PayPal did not accept the site's credentials."), code="authentication",
                                retryable=status is not None and status >= 500) from exc
        except ApiException as exc:
            raise _api_error(exc, what) from exc
        text = getattr(response, "text", "") or ""
        if not text.strip():
            return {}
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ProviderError(_("PayPal sent an answer that could not be read."), retryable=True,
                                code="bad_response") from exc
        return data if isinstance(data, dict) else {}

    # --- Orders v2 -----------------------------------------------------------
    def create_order(self, body, *, request_id):
        return self._call("create order", self.sdk.orders.create_order, {
            "body": body, "paypal_request_id": request_id, "prefer": REPRESENTATION,
        })

    def get_order(self, order_id):
        return self._call("get order", self.sdk.orders.get_order, {"id": order_id})

    def capture_order(self, order_id, *, request_id):
        return self._call("capture order", self.sdk.orders.capture_order, {
            "id": order_id, "paypal_request_id": request_id, "prefer": REPRESENTATION,
        })

    def authorize_order(self, order_id, *, request_id):
        return self._call("authorize order", self.sdk.orders.authorize_order, {
            "id": order_id, "paypal_request_id": request_id, "prefer": REPRESENTATION,
        })

    # --- Payments v2 -----------------------------------------------------------
    def get_authorization(self, authorization_id):
        return self._call("get authorization", self.sdk.payments.get_authorized_payment,
                          {"authorization_id": authorization_id})

    def capture_authorization(self, authorization_id, *, currency, value, request_id, invoice_id=None):
        body = CaptureRequest(amount=PayPalMoney(currency_code=currency, value=value), final_capture=True)
        if invoice_id:
            body.invoice_id = invoice_id
        return self._call("capture authorization", self.sdk.payments.capture_authorized_payment, {
            "authorization_id": authorization_id, "body": body, "paypal_request_id": request_id,
            "prefer": REPRESENTATION,
        })

    def void_authorization(self, authorization_id, *, request_id):
        return self._call("void authorization", self.sdk.payments.void_payment, {
            "authorization_id": authorization_id, "paypal_request_id": request_id, "prefer": REPRESENTATION,
        })

    def get_capture(self, capture_id):
        return self._call("get capture", self.sdk.payments.get_captured_payment, {"capture_id": capture_id})

    def refund_capture(self, capture_id, *, currency, value, request_id, custom_id=None):
        body = RefundRequest(amount=PayPalMoney(currency_code=currency, value=value))
        if custom_id:
            body.custom_id = custom_id
        return self._call("refund capture", self.sdk.payments.refund_captured_payment, {
            "capture_id": capture_id, "body": body, "paypal_request_id": request_id, "prefer": REPRESENTATION,
        })

    def get_refund(self, refund_id):
        return self._call("get refund", self.sdk.payments.get_refund, {"refund_id": refund_id})

    # --- Notifications v1 (not in the SDK) -------------------------------------
    def verify_webhook_signature(self, *, auth_algo, cert_url, transmission_id, transmission_sig,
                                 transmission_time, webhook_id, raw_event: str):
        """PayPal's verdict on a notification: "SUCCESS" or "FAILURE".

        The event goes back byte for byte as it was received: PayPal checks
        its signature over the original body, and a re-serialised copy
        (other key order, number formatting, escapes) can fail to verify.
        ``raw_event`` must already be valid JSON (the caller parsed it).
        """
        fields = {"auth_algo": auth_algo, "cert_url": cert_url, "transmission_id": transmission_id,
                  "transmission_sig": transmission_sig, "transmission_time": transmission_time,
                  "webhook_id": webhook_id}
        body = json.dumps(fields)[:-1] + ', "webhook_event": ' + raw_event + "}"
        controller = BaseController(self.sdk.global_configuration)

        def send(_options):
            return controller.new_api_call_builder.request(
                RequestBuilder().server(Server.DEFAULT)
                .path("/v1/notifications/verify-webhook-signature")
                .http_method(HttpMethodEnum.POST)
                .header_param(Parameter().key("Content-Type").value("application/json"))
                .header_param(Parameter().key("accept").value("application/json"))
                .body_param(Parameter().value(body))
                .auth(Single("Oauth2")),
            ).response(
                ResponseHandler()
                .deserializer(APIHelper.json_deserialize)
                .is_api_response(True)
                .local_error("default", "The error response.", ErrorException),
            ).execute()

        return self._call("verify webhook signature", send, {}).get("verification_status", "")
