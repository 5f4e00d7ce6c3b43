"""Reference target `checkout`: a saga orchestrator and its payments, inventory and shipping participants."""
