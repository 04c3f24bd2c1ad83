"""Runtime tests of the payment Lambda code (assets/lambda/payments), against moto."""
