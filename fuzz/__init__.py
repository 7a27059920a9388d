"""Webhook fuzzing against the real app: schema-generated and corpus-mutated bodies, all signed."""
