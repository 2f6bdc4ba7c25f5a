# Rules of the karyogram stage.
