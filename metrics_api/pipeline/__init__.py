"""The request pipeline: plan from the pack → fetch (coalesced, cached) → normalize → answer, and the rendered-answer cache. No HTTP here."""
