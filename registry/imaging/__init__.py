"""Imaging adapters: how the registry reads the outside world's images.

- :mod:`~registry.imaging.dicom` reads DICOM headers (no pixels) into :class:`grading.series.InstanceHeader`
  values, with :mod:`~registry.imaging.fastheader` as the fast path for explicit VR little endian;
- :mod:`~registry.imaging.archive` reads ``.zip`` archives in memory, within limits;
- :mod:`~registry.imaging.nifti` turns NIfTI volumes into MR images with the caller's study data;
- :mod:`~registry.imaging.sources` accepts or rejects every file it is given, naming it;
- :mod:`~registry.imaging.store` keeps the files by SOP Instance UID, under the data directory or (through
  :mod:`~registry.imaging.dicomweb_store`) in a DICOMweb archive;
- :mod:`~registry.imaging.render` renders a slice to PNG in display orientation;
- :mod:`~registry.imaging.scp` receives images by DICOM C-STORE.
"""
