"""Reports over recorded runs: leaderboards (md/csv/tex/html), the trajectory viewer, and compare for CI."""
