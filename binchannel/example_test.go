package binchannel_test

import (
	"context"
	"fmt"

	"github.com/peerd/peerd/binchannel"
)

func Example() {
	ctx := context.Background()
	ta, tb := binchannel.NewPipe(binchannel.PipeOptions{})
	a, b := binchannel.New(ta), binchannel.New(tb)
	defer a.Close()
	defer b.Close()

	type upload struct {
		Name string `json:"name"`
		Data []byte `json:"data"`
	}
	go func() {
		_ = a.Send(ctx, upload{Name: "hello.txt", Data: []byte("hello, world")})
	}()

	p, err := b.RecvPacket(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("skeleton: %s, %d binary\n", p.JSON, len(p.Bins))
	var u upload
	if err := binchannel.Unmarshal(p, &u); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s: %s\n", u.Name, u.Data)
	// Output:
	// skeleton: {"name":"hello.txt","data":{"$bin":0}}, 1 binary
	// hello.txt: hello, world
}

func ExampleMarshal() {
	type photo struct {
		Thumb []byte
		Full  []byte
		None  []byte
	}
	p, _ := binchannel.Marshal([]photo{{Thumb: []byte{1, 2}, Full: make([]byte, 1000)}})
	fmt.Printf("%s, sizes %d and %d\n", p.JSON, p.Bins[0].Len(), p.Bins[1].Len())
	// Output: [{"Thumb":{"$bin":0},"Full":{"$bin":1},"None":null}], sizes 2 and 1000
}
