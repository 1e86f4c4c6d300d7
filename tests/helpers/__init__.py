"""What the tests share and are not tests themselves: batched CLI runs, extra architectures for
the export tests, a toy plugin, and the browser driver of the web-export test."""
