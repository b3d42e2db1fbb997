"""The aniSearch HTTP client: one session, an honest User-Agent, answers sorted by meaning.

This module knows HTTP; it does not know about rate windows, retries or the checkpoint (see
`session`). It never puts the access token into a message it raises or returns.
"""

from __future__ import annotations

import requests

from malsync.anisearch.answers import ApiResponse, ResponseMeaning
from malsync.auth.tokens import TokenRenewalError, TokenSource
from malsync.config.settings import RetryOptions
from malsync.net.address import check_url, user_agent
from malsync.net.messages import server_words, shown
from malsync.net.transfer import AnswerTooLarge, Bounds, HttpAnswer, json_session, send
from malsync.pipeline.records import MediaType, Payload

# The largest answer read: all of a user's ratings are about 250 bytes each, so 32 MB holds
# 100,000 and more; a larger body is a failed request, not a memory exhausted.
MAX_ANSWER_BYTES = 32 * 1024 * 1024


class AniSearchClient:
    def __init__(
        self,
        base_url: str,
        contact: str,
        retry: RetryOptions,
        tokens: TokenSource,
        session: requests.Session | None = None,
    ) -> None:
        check_url(base_url, "[anisearch] base_url")
        self._base_url = base_url.rstrip("/")
        self.tokens = tokens
        self._bounds = Bounds.of(retry, MAX_ANSWER_BYTES)
        self._session = json_session(user_agent(contact), session)

    def close(self) -> None:
        self._session.close()

    def rating_url(self, media: MediaType, item_id: int) -> str:
        return f"{self._base_url}/my/{media.value}/{item_id}/ratings"

    def put_rating(self, media: MediaType, item_id: int, payload: Payload) -> ApiResponse:
        """`item_id` is a MAL id when the body says use_myanimelist_id, else aniSearch's id."""
        return self._send("PUT", self.rating_url(media, item_id), payload)

    def delete_rating(self, media: MediaType, anisearch_id: int) -> ApiResponse:
        return self._send("DELETE", self.rating_url(media, anisearch_id), None)

    def get_ratings(self, media: MediaType) -> ApiResponse:
        return self._send("GET", f"{self._base_url}/my/{media.value}/ratings", None)

    def get_profile(self) -> ApiResponse:
        """The signed-in account (scope user.profile): which account a checkpoint belongs to."""
        return self._send("GET", f"{self._base_url}/my/profile", None)

    def _send(self, method: str, url: str, payload: Payload | None) -> ApiResponse:
        try:
            token = self.tokens.current()
        except TokenRenewalError as error:
            return ApiResponse(ResponseMeaning.UNAUTHORIZED, None, str(error))
        headers = {"Authorization": f"Bearer {token.reveal()}"}
        try:
            response = send(self._session, method, url, self._bounds, json=payload, headers=headers)
        except AnswerTooLarge as error:
            return ApiResponse(ResponseMeaning.REJECTED, None, str(error))
        except requests.Timeout:
            return ApiResponse(ResponseMeaning.TRANSIENT, None, "no answer in time")
        except requests.ConnectionError as error:
            return ApiResponse(
                ResponseMeaning.TRANSIENT, None, f"connection failed ({cause_of(error)})"
            )
        except requests.RequestException as error:
            return ApiResponse(ResponseMeaning.TRANSIENT, None, cause_of(error))
        return self._classify(response)

    def _classify(self, response: HttpAnswer) -> ApiResponse:
        status = response.status_code
        if 200 <= status < 300:
            try:
                body = response.json() if response.content else None
            except ValueError:
                body = None
            return ApiResponse(ResponseMeaning.OK, status, "", body=body)
        if response.moved_to is not None:
            return ApiResponse(
                ResponseMeaning.MOVED, status, f"moved permanently to {response.moved_to}"
            )
        message = server_words(response)
        if status == 429:
            return ApiResponse(
                ResponseMeaning.RATE_LIMITED, status, message, response.headers.get("Retry-After")
            )
        if status == 401:
            return ApiResponse(ResponseMeaning.UNAUTHORIZED, status, message)
        if status in (403, 423):
            return ApiResponse(ResponseMeaning.FORBIDDEN, status, message)
        if status == 404:
            return ApiResponse(ResponseMeaning.NOT_FOUND, status, message)
        if status >= 500 or status == 408:
            return ApiResponse(ResponseMeaning.TRANSIENT, status, message)
        return ApiResponse(ResponseMeaning.REJECTED, status, message)


def cause_of(error: BaseException) -> str:
    """The innermost cause of a network error ("[Errno 111] Connection refused"), not the chain."""
    inner: BaseException = error
    seen = {id(inner)}
    while (cause := inner.__cause__ or inner.__context__) is not None and id(cause) not in seen:
        seen.add(id(cause))
        inner = cause
    return shown(str(inner)) or type(inner).__name__
