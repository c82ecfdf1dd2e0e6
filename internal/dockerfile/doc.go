// Package dockerfile reads Dockerfiles with BuildKit's parser, instructions
// and shell packages: it turns the text into stages of typed instructions,
// reports syntax errors as file:line with the reason, and expands variables
// the way `docker build` does. It executes nothing; package build does.
package dockerfile
