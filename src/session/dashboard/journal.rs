//! (being written for issue 23: the session's bounded history for the dashboard)
