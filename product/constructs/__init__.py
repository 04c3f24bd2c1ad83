"""One construct per AWS service of the payment product; `product.payment_service` composes them."""
