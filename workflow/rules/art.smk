# Rules of the art stage.
