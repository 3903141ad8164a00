"""The pure domain of Modic grading: endplates, the Nordic classification, series rules,
eligibility and agreement statistics. Standard library and numpy only."""
