"""A two-step flow: create a cart, then check it out with the operation's Idempotency-Key.

Use it as an operation kind (``python_path`` is relative to the scenario file)::

    target:
      operations:
        - name: checkout
          flow: "cart_checkout:cart_checkout"
          python_path: ../examples/flows

The harness calls the function once per attempt; a retry re-runs both steps with the same
``ctx.key``, so only the checkout is protected by the key (a new cart per attempt is the point:
the checkout must still take effect once).
"""

from __future__ import annotations

from harness.load.flow import FlowContext


def cart_checkout(ctx: FlowContext) -> str | None:
    """POST /carts, then POST /carts/{id}/checkout; the order's id, or None if a step was refused."""
    cart = ctx.request("POST", "/carts", json=ctx.render({"reference": "{op_id}", "customer": "{customer}"}))
    if cart.status >= 300 or not isinstance(cart.json, dict) or "id" not in cart.json:
        return None
    order = ctx.request(
        "POST",
        f"/carts/{cart.json['id']}/checkout",
        json=ctx.render({"reference": "{op_id}", "amount": "{amount}"}),
        headers={"Idempotency-Key": ctx.key},
    )
    if order.status >= 300 or not isinstance(order.json, dict):
        return None
    order_id = order.json.get("id")
    return None if order_id is None else str(order_id)
