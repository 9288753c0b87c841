package checkpoint_test

import (
	"fmt"
	"log"
	"os"

	"github.com/spate-io/spate/checkpoint"
)

func ExampleDir_Write() {
	tmp, err := os.MkdirTemp("", "checkpoint-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)

	d, err := checkpoint.Open(tmp, checkpoint.Retain(2))
	if err != nil {
		log.Fatal(err)
	}
	for seq := int64(1); seq <= 3; seq++ {
		if err := d.Write("meta", seq, "meta", fmt.Appendf(nil, "batch time %d", seq*1000)); err != nil {
			log.Fatal(err)
		}
	}
	seq, payload, err := d.Latest("meta", "meta")
	if err != nil {
		log.Fatal(err)
	}
	kept, _ := d.List("meta")
	fmt.Printf("latest %d: %s\n", seq, payload)
	fmt.Println("kept:", kept)
	fmt.Println(checkpoint.FileName("meta", seq))
	// Output:
	// latest 3: batch time 3000
	// kept: [2 3]
	// meta-00000000000000000003
}
