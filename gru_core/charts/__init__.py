"""Chart builders, one module per area: pure functions, data frame in, Altair chart (or escaped HTML) out.

They import only the core (``gru_core.archs`` for the gates' names); the pages hand them the frames
that ``gru_core.analysis`` builds.
"""
