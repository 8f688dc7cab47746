"""facefold's application core: every use case once, for the CLI, the daemon and any other way in.

`Library` owns the settings, the database engine and the models; the modules beside it hold the
use cases as functions of a Library (photos, people, reports, recognition, training). Front ends
parse their input, call one of these, and present the result.
"""

from facefold.core.library import Library, Models

__all__ = ["Library", "Models"]
