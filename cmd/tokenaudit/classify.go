package main

// classify maps errors from the library packages to exit statuses.
func classify(err error) int {
	return exitError
}
