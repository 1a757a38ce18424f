package peer

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// slogFactory routes Pion's internal logging to an optional *slog.Logger.
// With a nil logger Pion stays silent: library code never logs on its own.
type slogFactory struct {
	log *slog.Logger
}

func (f slogFactory) NewLogger(scope string) logging.LeveledLogger {
	if f.log == nil {
		return slogScope{}
	}

	return slogScope{log: f.log.With("pion", scope)}
}

// slogScope is one Pion scope. Trace and Debug go to slog's debug level.
type slogScope struct {
	log *slog.Logger
}

func (s slogScope) emit(level slog.Level, msg string) {
	if s.log == nil || !s.log.Enabled(context.Background(), level) {
		return
	}
	s.log.Log(context.Background(), level, msg)
}

func (s slogScope) emitf(level slog.Level, format string, args ...any) {
	if s.log == nil || !s.log.Enabled(context.Background(), level) {
		return
	}
	s.log.Log(context.Background(), level, fmt.Sprintf(format, args...))
}

func (s slogScope) Trace(msg string)                  { s.emit(slog.LevelDebug-4, msg) }
func (s slogScope) Tracef(format string, args ...any) { s.emitf(slog.LevelDebug-4, format, args...) }
func (s slogScope) Debug(msg string)                  { s.emit(slog.LevelDebug, msg) }
func (s slogScope) Debugf(format string, args ...any) { s.emitf(slog.LevelDebug, format, args...) }
func (s slogScope) Info(msg string)                   { s.emit(slog.LevelInfo, msg) }
func (s slogScope) Infof(format string, args ...any)  { s.emitf(slog.LevelInfo, format, args...) }
func (s slogScope) Warn(msg string)                   { s.emit(slog.LevelWarn, msg) }
func (s slogScope) Warnf(format string, args ...any)  { s.emitf(slog.LevelWarn, format, args...) }
func (s slogScope) Error(msg string)                  { s.emit(slog.LevelError, msg) }
func (s slogScope) Errorf(format string, args ...any) { s.emitf(slog.LevelError, format, args...) }
