"""Plain types and helpers shared by every stage: kinds, the request/answer model, quantities, PromQL literals, Status errors, single-flight."""
