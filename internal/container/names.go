package container

import (
	"crypto/rand"
	"math/big"
)

// Docker-style random names: adjective_surname.
var (
	adjectives = []string{"admiring", "affectionate", "amazing", "awesome", "blissful", "bold", "brave", "clever",
		"cool", "dazzling", "determined", "eager", "ecstatic", "elegant", "epic", "fervent", "focused", "friendly",
		"gallant", "gifted", "goofy", "happy", "hopeful", "jolly", "keen", "kind", "laughing", "loving", "lucid",
		"magical", "modest", "musing", "nice", "nifty", "optimistic", "peaceful", "pensive", "quirky", "relaxed",
		"serene", "sharp", "stoic", "sweet", "tender", "trusting", "upbeat", "vibrant", "wizardly", "youthful", "zealous"}
	surnames = []string{"albattani", "babbage", "bell", "bohr", "curie", "darwin", "dijkstra", "einstein", "euclid",
		"euler", "fermat", "feynman", "galileo", "gauss", "goldberg", "hamilton", "hopper", "hypatia", "johnson",
		"kepler", "knuth", "lamport", "lovelace", "mccarthy", "meitner", "newton", "noether", "pascal", "pike",
		"poincare", "ritchie", "shannon", "sinoussi", "tesla", "thompson", "torvalds", "turing", "wozniak", "yalow"}
)

func randomName() string {
	return pick(adjectives) + "_" + pick(surnames)
}

func pick(list []string) string {
	n, err := rand.Int(rand.Reader, big.NewInt(int64(len(list))))
	if err != nil {
		return list[0]
	}
	return list[n.Int64()]
}
