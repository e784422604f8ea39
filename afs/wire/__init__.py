"""The wire format the API and its client share: signing, error body, schemas (no server)."""
