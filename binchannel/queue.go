package binchannel

// jobQueue is a FIFO ring of jobs.
type jobQueue struct {
	buf []*job
	h   int // index of the head in buf
	n   int
}

func (q *jobQueue) len() int { return q.n }

func (q *jobQueue) head() *job {
	if q.n == 0 {
		return nil
	}
	return q.buf[q.h]
}

func (q *jobQueue) push(j *job) {
	if q.n == len(q.buf) {
		nb := make([]*job, max(8, 2*len(q.buf)))
		for i := 0; i < q.n; i++ {
			nb[i] = q.buf[(q.h+i)%len(q.buf)]
		}
		q.buf, q.h = nb, 0
	}
	q.buf[(q.h+q.n)%len(q.buf)] = j
	q.n++
}

func (q *jobQueue) pop() {
	q.buf[q.h] = nil
	q.h = (q.h + 1) % len(q.buf)
	q.n--
}

func (q *jobQueue) clear() {
	for q.n > 0 {
		q.pop()
	}
	q.h = 0
}
