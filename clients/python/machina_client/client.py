"""A client of a Machina node's HTTP API: query, simulate, submit and wait for receipts."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence

from .codec import action_json, encode_tx
from .keys import Keypair
from .tx import MIN_FEE, body, sign, tx_id

EXPIRY_BLOCKS = 600
"""How many blocks ahead a transaction built here may still be included."""

WAIT_SLICE_MS = 5000
"""How long one `GET /v1/tx/{id}` waits at the node for a receipt (the node's long poll)."""


class MachinaError(Exception):
    """The node refused a request: `code` is stable, `message` says what to do."""

    def __init__(self, code: str, message: str, status: int = 0, receipt: Any = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.receipt = receipt


class Client:
    """One node's API, for example `Client("http://127.0.0.1:8645")`."""

    def __init__(self, url: str = "http://127.0.0.1:8645", timeout_s: float = 30.0):
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self._chain_id: Optional[int] = None

    # --- HTTP -------------------------------------------------------------------------------

    def _request(self, method: str, path: str, data: Optional[bytes], ctype: str) -> Any:
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", ctype)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as r:
                raw = r.read()
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                err = json.loads(raw)
                raise MachinaError(
                    err.get("code", "http_error"), err.get("message", ""), e.code,
                    err.get("receipt"),
                ) from None
            except (ValueError, AttributeError):
                raise MachinaError("http_error", raw[:200].decode("utf-8", "replace"), e.code) from None
        ctype_out = r.headers.get("Content-Type", "")
        return json.loads(raw) if "json" in ctype_out else raw.decode("utf-8", "replace")

    def get(self, path: str) -> Any:
        """`GET` a path of the API, such as `/v1/machine/7`; answers the decoded JSON."""
        return self._request("GET", path, None, "")

    def post(self, path: str, value: Any) -> Any:
        """`POST` a JSON value to a path of the API."""
        return self._request("POST", path, json.dumps(value).encode(), "application/json")

    # --- queries ----------------------------------------------------------------------------

    def health(self) -> Dict[str, Any]:
        """Chain id, height and state root."""
        return self.get("/v1/health")

    def chain_id(self) -> int:
        """The node's chain id (asked once)."""
        if self._chain_id is None:
            self._chain_id = int(self.health()["chain_id"])
        return self._chain_id

    def height(self) -> int:
        """The latest committed height."""
        return int(self.health()["height"])

    def account(self, address: str) -> Dict[str, Any]:
        """An account's balance (micro-units, as a string) and next nonce."""
        return self.get(f"/v1/account/{address}")

    def balance(self, address: str) -> int:
        """An account's balance in micro-units."""
        return int(self.account(address)["balance"])

    def machine(self, machine_id: int) -> Dict[str, Any]:
        """A machine's record: owner, kind, zone, status, account, keys."""
        return self.get(f"/v1/machine/{machine_id}")

    def block(self, block_id: Any = "latest", receipts: bool = False) -> Dict[str, Any]:
        """A block by height, hash or `latest`, with its receipts if asked."""
        return self.get(f"/v1/block/{block_id}" + ("?receipts=true" if receipts else ""))

    def account_txs(self, address: str, before: Optional[str] = None) -> Dict[str, Any]:
        """An account's transactions, newest first; `before` is the page's cursor."""
        return self.get(f"/v1/account/{address}/txs" + (f"?before={before}" if before else ""))

    # --- transactions -----------------------------------------------------------------------

    def build(
        self,
        signer: Keypair,
        actions: List[Dict[str, Any]],
        *,
        sender: Optional[str] = None,
        signers: Sequence[Keypair] = (),
        fee: int = MIN_FEE,
        fee_payer: Optional[str] = None,
        nonce: Optional[int] = None,
    ) -> Dict[str, Any]:
        """A signed transaction from `sender` (default: the signer's account).

        The nonce is the account's next one unless given; extra `signers` sign too (the members
        of a multisig, a machine's owner, a fee payer)."""
        sender = sender or signer.address
        if nonce is None:
            nonce = int(self.account(sender)["nonce"])
        expiry = self.height() + EXPIRY_BLOCKS
        actions = [action_json(a) for a in actions]
        tx_body = body(self.chain_id(), sender, nonce, actions, fee, expiry, fee_payer)
        return sign(tx_body, [signer, *signers])

    def simulate(self, tx: Dict[str, Any]) -> Dict[str, Any]:
        """The receipt and events `tx` would get against the pending state; nothing charged."""
        return self.post("/v1/tx/simulate", tx)

    def submit(self, tx: Dict[str, Any]) -> str:
        """Admit `tx` to the node's mempool; answers its id. Admission is not inclusion."""
        return str(self.post("/v1/tx", tx)["tx_hash"])

    def submit_bytes(self, tx: Dict[str, Any]) -> str:
        """Like `submit`, sending the canonical bytes instead of JSON."""
        answer = self._request("POST", "/v1/tx", encode_tx(tx), "application/octet-stream")
        return str(answer["tx_hash"])

    def wait(self, tx: Dict[str, Any], timeout_s: float = 60.0) -> Dict[str, Any]:
        """Wait for `tx`'s receipt, resubmitting it if the node lost it (a restart drops the
        mempool; one body is one id, so resubmitting is idempotent)."""
        ident = tx_id(tx["body"])
        deadline = time.monotonic() + timeout_s
        last_error: Optional[Exception] = None
        while True:
            try:
                view = self.get(f"/v1/tx/{ident}?wait_ms={WAIT_SLICE_MS}")
                if view.get("status") == "committed":
                    return view
            except MachinaError as e:
                if e.code != "not_found":
                    raise
                last_error = self._resubmit(tx)
            except OSError as e:
                last_error = e
                time.sleep(0.5)  # the node is restarting: try again until the deadline
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"transaction {ident} was not committed in {timeout_s} s"
                    + (f" (last error: {last_error})" if last_error else "")
                )

    def _resubmit(self, tx: Dict[str, Any]) -> Optional[Exception]:
        """Submit again; a refusal is returned, not raised, since the transaction may have
        been committed meanwhile (the next lookup tells)."""
        try:
            self.submit(tx)
            return None
        except MachinaError as e:
            return None if e.code == "already_known" else e

    def send(self, signer: Keypair, actions: List[Dict[str, Any]], **kw: Any) -> Dict[str, Any]:
        """Build, preflight, submit and wait: the receipt of a transaction that succeeded.

        Raises `MachinaError` with the failing action's code if the simulation or the committed
        transaction failed (a failed transaction is still committed and pays its fee)."""
        tx = self.build(signer, actions, **kw)
        sim = self.simulate(tx)
        _raise_failed(sim["receipt"], "simulated first, nothing was sent")
        self.submit(tx)
        view = self.wait(tx)
        _raise_failed(view["receipt"], f"committed at height {view.get('height')}")
        return view

    # --- event stream -----------------------------------------------------------------------

    def subscribe(self, subscription: Dict[str, Any], **kw: Any) -> Iterator[Dict[str, Any]]:
        """Follow `/v1/ws`, resuming after a disconnection with no gap and no duplicate
        (see `machina_client.ws.follow`)."""
        from .ws import follow

        return follow(self.url, subscription, **kw)


def _raise_failed(receipt: Dict[str, Any], context: str) -> None:
    if not receipt.get("success", False):
        err = receipt.get("error") or {}
        raise MachinaError(
            err.get("code", "failed"), f"{err.get('message', '')} ({context})", 0, receipt
        )


def actions(*items: Iterable[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """A list of actions, for readability at call sites."""
    return list(items)  # type: ignore[arg-type]
