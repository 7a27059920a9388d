"""The shop: catalogue import, categories, product search, and the order schema they feed."""
