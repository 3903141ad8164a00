"""Standards out: analysis-ready exports (CSV, Stata, Parquet, REDCap, a codebook) and DICOM SR.

Every export names patients by pseudonym and raters by rater pseudonym; no hospital identifier,
name or birth date leaves through here. See ``docs/exports.md`` and ``docs/dicom-sr.md``.
"""
