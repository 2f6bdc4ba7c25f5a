# Rules of the recognition stage.
