"""cmb-inpainting (in progress): CMB inpainting with dilated convolutions on the HEALPix sphere (SkyReconNet).

So far: the exact sphere-to-plane projection on the 12 HEALPix base faces with neighbour padding for
convolutions across face edges (:mod:`sciconv_cmb.healpix_faces`), and the HEALPix FITS reader and writer
(:mod:`sciconv_cmb.healpix_io`). The sky simulator, the network, the task and the pipelines are not written
yet, so the plugin registers nothing.
"""
